"""The embedded broker's upkeep (crm_mail/broker.py): made whole before the processes start,
and emptied of the messages workers took, never of those still waiting."""

import sqlite3
from contextlib import closing

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
