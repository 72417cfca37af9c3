"""The embedded broker's upkeep (crm_mail/broker.py): made whole before the processes start,
and emptied of the messages workers took, never of those still waiting."""

import sqlite3
import time
from contextlib import closing

import pytest
from celery import Celery

from crm_mail import broker


def embedded_app(path) -> Celery:
    app = Celery("crm_mail")
    app.conf.broker_url = f"sqla+sqlite:///{path}"
    return app


def test_prepare_makes_every_queue_and_prune_deletes_only_what_was_taken(settings, tmp_path):
    settings.BROKER_FILE = tmp_path / "var" / "broker.sqlite3"
    app = embedded_app(settings.BROKER_FILE)
    try:
        broker.prepare(app, ["send", "sync"])
        with closing(sqlite3.connect(settings.BROKER_FILE)) as db:
            assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
            queues = db.execute("SELECT name FROM kombu_queue ORDER BY name").fetchall()
        assert queues == [("send",), ("sync",)]

        with app.connection_for_write() as conn:
            queue = conn.SimpleQueue("send")
            for n in range(3):
                queue.put({"n": n})
            taken = queue.get(timeout=5)
            taken.ack()
            assert taken.payload == {"n": 0}

            assert broker.prune() == 1
            assert broker.prune() == 0
            assert [queue.get(timeout=5).payload["n"] for _ in range(2)] == [1, 2]
            queue.close()
    finally:
        app.close()


def test_the_embedded_database_lets_a_page_read_while_a_worker_holds_its_write_lock(
    transactional_db,
):
    """A write-ahead log (settings: SQLite's OPTIONS): a worker stopped in the middle of its
    commit, holding the write lock, no longer holds every page (and /health/) with it."""
    from django.db import connection

    from records.models import User

    if connection.vendor != "sqlite":
        pytest.skip("the embedded database is SQLite (make test without DATABASE_URL)")
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        assert cursor.fetchone() == ("wal",)
    User.objects.create(username="reader")
    with closing(sqlite3.connect(connection.settings_dict["NAME"], timeout=0.1)) as worker:
        worker.execute("BEGIN EXCLUSIVE")
        worker.execute("UPDATE records_user SET first_name = 'W'")
        started = time.monotonic()
        assert User.objects.get(username="reader").first_name == ""
        assert time.monotonic() - started < 1
        worker.rollback()
