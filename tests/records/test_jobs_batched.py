"""records.jobs.later_batched: jobs a hot path queues, pushed by the process's background
thread a few at a time in one LPUSH, on a real Redis; queued at once without one; pushed when
the process exits; a broker outage logged once and never raised to the caller."""

from __future__ import annotations

import base64
import json
import logging
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
import redis

from records import jobs
from tests.integration.workers import wait_until

ROOT = Path(__file__).resolve().parents[2]
NAME = "transactional.single_send"  # routed to the "transactional" queue, a plain one
QUEUE = "transactional"


def queued_args(client: redis.Redis) -> list:
    """The arguments of each message on QUEUE, oldest first."""
    messages = [json.loads(m) for m in reversed(client.lrange(QUEUE, 0, -1))]
    return [json.loads(base64.b64decode(m["body"]))[0] for m in messages]


class Monitor:
    """The LPUSH commands Redis runs on one database, as its MONITOR reports them."""

    def __init__(self, url: str):
        self.client = redis.Redis.from_url(url)
        self.db = self.client.connection_pool.connection_kwargs.get("db", 0)
        self.stop_word = f"stop-{uuid.uuid4().hex}"
        self.lpushes: list[str] = []
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._listen, daemon=True)

    def __enter__(self) -> Monitor:
        self.thread.start()
        assert self.ready.wait(5)
        return self

    def __exit__(self, *exc) -> None:
        self.client.echo(self.stop_word)
        self.thread.join(10)

    def _listen(self) -> None:
        with self.client.monitor() as monitor:
            self.ready.set()
            while True:
                command = monitor.next_command()
                if self.stop_word in command["command"]:
                    return
                if int(command["db"]) == self.db and command["command"].startswith("LPUSH"):
                    self.lpushes.append(command["command"])


@pytest.mark.django_db
def test_jobs_queued_together_share_one_lpush_from_another_thread(
    redis_url, celery_broker, django_capture_on_commit_callbacks
):
    celery_broker(redis_url)
    client = redis.Redis.from_url(redis_url)
    client.delete(QUEUE)
    with Monitor(redis_url) as monitor:
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            for n in range(5):
                jobs.later_batched(NAME, n)
        assert len(callbacks) == 5  # queued on commit
        wait_until(lambda: client.llen(QUEUE) == 5, "the five jobs in Redis", 10.0)
    assert queued_args(client) == [[0], [1], [2], [3], [4]]
    assert len(monitor.lpushes) == 1, monitor.lpushes
    client.delete(QUEUE)


@pytest.mark.django_db
def test_nothing_is_queued_before_the_commit(
    redis_url, celery_broker, django_capture_on_commit_callbacks
):
    celery_broker(redis_url)
    client = redis.Redis.from_url(redis_url)
    client.delete(QUEUE)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        jobs.later_batched(NAME, 7)
    assert len(callbacks) == 1
    assert jobs.push_waiting() == 0
    assert client.llen(QUEUE) == 0  # rolled back: never runs


@pytest.mark.django_db
def test_without_redis_the_job_is_queued_at_once(queued_jobs, django_capture_on_commit_callbacks):
    # The tests' broker is Celery's in-memory one: no LPUSH to batch.
    with django_capture_on_commit_callbacks(execute=True):
        jobs.later_batched(NAME, 11)
    assert queued_jobs.args_of(NAME) == [(11,)]
    assert jobs.push_waiting() == 0


@pytest.mark.django_db
def test_a_broker_outage_is_logged_once_and_never_raised(
    redis_url, celery_broker, caplog, django_capture_on_commit_callbacks
):
    celery_broker(redis_url)
    client = redis.Redis.from_url(redis_url)
    # A push that works: no outage under way.
    with django_capture_on_commit_callbacks(execute=True):
        jobs.later_batched(NAME, 0)
    jobs.push_waiting()
    wait_until(lambda: client.llen(QUEUE) == 1, "the first job", 10.0)
    client.delete(QUEUE)
    celery_broker("redis://127.0.0.1:1/0")  # nothing listens there
    caplog.set_level(logging.INFO, logger="records.jobs")
    with django_capture_on_commit_callbacks(execute=True):
        for n in range(3):
            jobs.later_batched(NAME, n)
    jobs.push_waiting()

    def warnings() -> list[str]:
        return [r.getMessage() for r in caplog.records if "not queued" in r.getMessage()]

    wait_until(warnings, "the outage's warning", 10.0)
    (warning,) = warnings()
    assert warning.startswith("broker unreachable (ConnectionError: ")
    assert NAME in warning
    # Back: the next push says so.
    celery_broker(redis_url)
    with django_capture_on_commit_callbacks(execute=True):
        jobs.later_batched(NAME, 9)
    jobs.push_waiting()
    wait_until(lambda: client.llen(QUEUE) == 1, "the job after the outage", 10.0)
    assert "broker reachable again" in caplog.records[-1].getMessage()
    client.delete(QUEUE)


EXIT_SCRIPT = """
import django
django.setup()
from records import jobs
for n in range(3):
    jobs.later_batched("transactional.single_send", n)  # autocommit: waits for the thread
# The process ends at once, well within BATCH_SECONDS: its exit pushes what waits.
"""


def test_what_waits_is_pushed_when_the_process_exits(redis_url, tmp_path):
    client = redis.Redis.from_url(redis_url)
    client.delete(QUEUE)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "crm_mail.settings",
        "DJANGO_ENV": "development",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "REDIS_URL": redis_url,
        "CRM_VAR_DIR": str(tmp_path),
        "PYTHONPATH": str(ROOT),
    }
    result = subprocess.run(
        [sys.executable, "-c", EXIT_SCRIPT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert queued_args(client) == [[0], [1], [2]]
    client.delete(QUEUE)


@pytest.mark.django_db(transaction=True)
def test_a_forked_child_never_pushes_its_parents_jobs(redis_url, celery_broker):
    celery_broker(redis_url)
    client = redis.Redis.from_url(redis_url)
    client.delete(QUEUE)
    for n in range(3):
        jobs.later_batched(NAME, n)  # autocommit: waiting for the thread at once
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child (a gunicorn worker forked by its master): nothing of its own
        os.close(read)
        os.write(write, str(jobs.push_waiting()).encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    assert os.read(read, 16) == b"0"
    os.close(read)
    wait_until(lambda: client.llen(QUEUE) >= 3, "the parent's jobs in Redis", 10.0)
    time.sleep(0.2)  # anything pushed twice would be there by now
    assert queued_args(client) == [[0], [1], [2]]
    client.delete(QUEUE)


@pytest.mark.django_db(transaction=True)
def test_a_job_that_cannot_be_written_is_logged_and_the_thread_goes_on(
    redis_url, celery_broker, caplog
):
    celery_broker(redis_url)
    client = redis.Redis.from_url(redis_url)
    client.delete(QUEUE)
    caplog.set_level(logging.ERROR, logger="records.jobs")
    jobs.later_batched(NAME, object())  # a caller's bug: not JSON

    def logged() -> bool:
        return any("could not push the waiting jobs" in r.getMessage() for r in caplog.records)

    wait_until(logged, "the failure's traceback in the log", 10.0)
    jobs.later_batched(NAME, 5)
    wait_until(lambda: client.llen(QUEUE) == 1, "the next job in Redis", 10.0)
    assert queued_args(client) == [[5]]
    client.delete(QUEUE)
