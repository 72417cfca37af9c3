"""A worker keeps its database connection from one task to the next, as a web process keeps
one from one request to the next (CONN_MAX_AGE), and opens a new one when it breaks.

Celery's Django fixup would close it after every task: each task then paid a new PostgreSQL
connection, a backend started with cold caches (crm_mail/celery.py, keep_connections). A real
worker on Redis and the test database runs the heartbeat job; PostgreSQL's pg_stat_activity
shows which backends stay connected to the database after each run.
"""

from __future__ import annotations

import pytest
from django.db import connection
from kombu import Connection

from crm_mail import heartbeats
from crm_mail.celery import app
from crm_mail.models import Heartbeat
from tests.integration.workers import Worker, purge, wait_until
from tests.servers import server_missing

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]
QUEUE = "housekeeping"


def run_heartbeat(broker: Connection, name: str, workers) -> None:
    """Queue the heartbeat job for `name` to the worker and wait until its row is written."""
    app.signature(heartbeats.HEARTBEAT, args=(name,)).apply_async(connection=broker, queue=QUEUE)
    key = heartbeats.queue_key(name)
    wait_until(Heartbeat.objects.filter(name=key).exists, f"the heartbeat {name}", 30.0, workers)


def backends() -> set[int]:
    """The PostgreSQL backends connected to the test database, but this test's own."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return {pid for (pid,) in cursor.fetchall()}


@pytest.mark.django_db(transaction=True)
def test_a_worker_keeps_its_connection_between_tasks_and_reconnects_when_it_breaks(
    redis_url, tmp_path
):
    if connection.vendor != "postgresql":
        server_missing("PostgreSQL (the worker is another process on the same database)")
    broker = Connection(redis_url)
    purge(broker, QUEUE)
    worker = Worker(QUEUE, tmp_path)
    try:
        worker.wait_ready()
        # The worker's main process records that it serves the queue: its own connection.
        started = Heartbeat.objects.filter(name=heartbeats.queue_key(QUEUE)).exists
        wait_until(started, "the worker's start to be recorded", 30.0, [worker])
        before = backends()

        run_heartbeat(broker, "probe-1", [worker])
        # The task ran in the pool's process, on a connection of its own, still there.
        opened = backends() - before
        assert len(opened) == 1, f"the worker left {len(opened)} connections after the task"
        (task_backend,) = opened

        run_heartbeat(broker, "probe-2", [worker])
        assert backends() == before | {task_backend}, "the second task connected again"

        # The database drops the connection (a restart, a failover): the next task's health
        # check finds it dead, and the task runs on a new one.
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [task_backend])
        wait_until(lambda: task_backend not in backends(), "the backend to end", 10.0, [worker])
        run_heartbeat(broker, "probe-3", [worker])
        (new_backend,) = backends() - before
        assert new_backend != task_backend
        assert "could not record the heartbeat" not in worker.output()
    finally:
        worker.stop()
        broker.release()
