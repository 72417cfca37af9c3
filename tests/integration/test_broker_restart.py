"""The worker side of a broker outage, on the product's Redis settings
(CELERY_BROKER_TRANSPORT_OPTIONS): a job a task queues gives up after seconds instead of waiting
forever on a hung Redis, and a real worker takes jobs again once Redis is back."""

from __future__ import annotations

import re
import time

import pytest
from django.db import connection
from kombu.exceptions import OperationalError

from mailboxes import jobs
from mailboxes.sync.tasks import sync_all
from tests.integration.test_queues import Worker, wait_until
from tests.mailboxes.inboxes import offline_mailbox
from tests.servers import server_missing

pytestmark = pytest.mark.integration
# socket_timeout 5 s in the settings, once; and margin for a loaded CI machine.
GIVES_UP_WITHIN = 15.0


@pytest.mark.django_db
@pytest.mark.timeout(60)  # the old settings waited forever on a hung Redis: fail, never hang
def test_sync_all_gives_up_on_a_broker_that_is_down(redis_url, owner, celery_broker, dead_broker):
    offline_mailbox(owner)
    celery_broker(dead_broker)
    started = time.monotonic()
    with pytest.raises(OperationalError):
        sync_all()  # beat's next run tries again
    took = time.monotonic() - started
    assert took < GIVES_UP_WITHIN, f"sync_all took {took:.1f} s to give up"


def jobs_done(worker: Worker) -> int:
    return len(re.findall(rf"Task {jobs.SEND_DUE}\[[^\]]+\] succeeded", worker.output()))


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(180)
def test_a_worker_takes_jobs_again_once_redis_is_back(
    redis_server, celery_broker, monkeypatch, tmp_path
):
    if connection.vendor != "postgresql":
        server_missing("PostgreSQL (the worker is another process on the same database)")
    # The worker reads its broker from REDIS_URL, as in production: this test's own Redis.
    monkeypatch.setenv("REDIS_URL", redis_server.url)
    celery_broker(redis_server.url)
    worker = Worker("send", tmp_path)
    try:
        worker.wait_ready()
        jobs.now(jobs.SEND_DUE)
        wait_until(lambda: jobs_done(worker) == 1, "the first job", 30.0, [worker])

        redis_server.stop()
        lost = "Connection to broker lost"
        wait_until(lambda: lost in worker.output(), "the worker to notice", 30.0, [worker])
        redis_server.start()
        connected = "Connected to redis://"
        wait_until(
            lambda: worker.output().count(connected) == 2, "the worker to reconnect", 60.0, [worker]
        )
        jobs.now(jobs.SEND_DUE)
        wait_until(lambda: jobs_done(worker) == 2, "the job after the restart", 30.0, [worker])
    finally:
        worker.stop()
