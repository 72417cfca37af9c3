"""Transactional email never waits behind sequence or one-to-one mail: it has a Celery queue
and workers of its own.

Real Celery workers on Redis, one for "send" and one for "transactional" (concurrency 1 each,
on the test database), as docker-compose.yml runs them. A rep's inbox has a backlog of emails
on the "send" queue, going out slowly through its SMTP server; a transactional email queued
after all of them must reach the pool's relay (another aiosmtpd sink) within SEND_WITHIN
seconds, while the backlog is still being sent.
"""

from __future__ import annotations

import pytest
from django.db import connection
from kombu import Connection

from mailboxes import jobs
from mailboxes.constants import SendStatus
from tests.integration import servers
from tests.integration.test_queues import Worker, publish, purge, wait_until
from tests.mailboxes.inboxes import imap_mailbox
from tests.mailboxes.outbox import reload, submit
from tests.servers import server_missing
from tests.transactional.pool import pool_for, queue

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning"),
    pytest.mark.timeout(300),
]
BACKLOG = 80
# Each backlog email takes the inbox's server this long to accept: 80 of them, 16 s or more.
SLOW_SERVER = 0.2
SEND_WITHIN = 5.0


@pytest.mark.django_db(transaction=True)
def test_transactional_mail_goes_out_while_a_send_backlog_waits(
    redis_url, owner, dovecot, smtp_sink, tmp_path, queued_jobs
):
    if connection.vendor != "postgresql":
        server_missing("PostgreSQL (the workers are other processes on the same database)")
    relay = servers.start_smtp_sink()
    broker = Connection(redis_url)
    workers = []
    try:
        pool_for(relay)
        smtp_sink.handler.data_delay = SLOW_SERVER
        inbox = imap_mailbox(owner, dovecot, smtp_sink)
        for i in range(BACKLOG):
            submit(owner, inbox, to=(f"lead{i}@prospect.test",), subject=f"Follow-up {i}")
        purge(broker, "send", "transactional")
        for args in queued_jobs.args_of(jobs.SEND_OUTBOUND):
            publish(broker, jobs.SEND_OUTBOUND, args)
        workers = [Worker("send", tmp_path), Worker("transactional", tmp_path)]
        for worker in workers:
            worker.wait_ready()
        wait_until(lambda: smtp_sink.messages, "the backlog to start going out", 30.0, workers)

        outbound = queue("ada@client.test", subject="Your password reset link")
        (args,) = queued_jobs.args_of(jobs.SEND_TRANSACTIONAL)
        publish(broker, jobs.SEND_TRANSACTIONAL, args)
        took = wait_until(lambda: relay.messages, "the transactional email", SEND_WITHIN, workers)

        # The backlog is still going out: on one queue, the email would have waited for it.
        assert len(smtp_sink.messages) < BACKLOG, f"the backlog ended first ({took:.1f} s)"
        (received,) = relay.messages
        assert received.rcpt_tos == ["ada@client.test"]
        wait_until(lambda: reload(outbound).status == SendStatus.SENT, "its result", 10.0, workers)
    finally:
        for worker in workers:
            worker.stop()
        relay.controller.stop()
        broker.release()
