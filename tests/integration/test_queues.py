"""Queues by job: an email goes out within seconds while a large initial sync is running.

Two real Celery workers on Redis, one for the "sync" queue and one for "send" (concurrency 1
each, on the test database), as production runs them (docker-compose.yml). A rep connects an
inbox on Dovecot that holds thirty thousand messages from a contact (written as Maildir files),
so its first sync runs far longer than a send may take, and sends an email from it as soon as
the sync has begun. The SMTP sink must have the email within SEND_WITHIN seconds, while the
inbox is still syncing. With one shared queue and one worker slot the email would wait for
the whole sync.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from django.db import connection
from kombu import Connection

from crm_mail.celery import app
from mailboxes import jobs
from mailboxes.constants import SendStatus
from mailboxes.models import FolderSync, Mailbox
from tests.factories import ContactFactory
from tests.integration.workers import Worker, purge, wait_until
from tests.mailboxes.inboxes import REP_ADDRESS, imap_mailbox
from tests.mailboxes.outbox import header, reload, submit
from tests.servers import server_missing

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning"),
    # Fail, never hang: a worker that never answers ends the test here.
    pytest.mark.timeout(300),
]
# An initial sync of 30,000 small messages from a contact takes 6-30 s here (and the raw bytes
# of each are fetched and stored); a send takes a few tenths of a second.
MESSAGES = 30_000
SEND_WITHIN = 3.0
SYNC_WITHIN = 240.0
CLIENT = "zoe@client.example"


def message(i: int, start: datetime) -> bytes:
    """A small message from the contact: every one is logged, so every one costs the sync a
    raw fetch and its database writes."""
    stamp = format_datetime(start + timedelta(minutes=i))
    return (
        f"From: Zoe Client <{CLIENT}>\r\nTo: {REP_ADDRESS}\r\n"
        f"Subject: Order {i} for the spring range\r\nDate: {stamp}\r\n"
        f"Message-ID: <order-{i}.{uuid.uuid4().hex}@client.example>\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n"
        f"Hello, here are the figures for order {i}.\r\n" + "Line of the order.\r\n" * 20
    ).encode()


def fill_inbox(account) -> None:
    start = datetime(2025, 1, 6, 8, tzinfo=UTC)
    for i in range(MESSAGES):
        account.deliver(message(i, start))


def publish(broker: Connection, name: str, args: tuple) -> None:
    """Queue a job on the product's broker, routed by the settings as the web would."""
    app.signature(name, args=args).apply_async(connection=broker)


@pytest.mark.django_db(transaction=True)
def test_an_email_goes_out_within_seconds_while_a_large_sync_runs(
    redis_url, owner, contact, dovecot, smtp_sink, tmp_path, queued_jobs
):
    if connection.vendor != "postgresql":
        server_missing("PostgreSQL (the workers are other processes on the same database)")
    ContactFactory(owner=owner, emails=[CLIENT])
    fill_inbox(dovecot)
    inbox = imap_mailbox(owner, dovecot, smtp_sink)
    # The tests' own jobs go to a memory broker (tests/conftest.py); the workers read the
    # product's, Redis, so the jobs of this test are published there.
    broker = Connection(redis_url)
    purge(broker, "sync", "send")
    workers = [Worker("sync", tmp_path), Worker("send", tmp_path)]
    try:
        for worker in workers:
            worker.wait_ready()

        # The rep has just connected the inbox: its first sync starts...
        publish(broker, jobs.SYNC_MAILBOX, (inbox.pk,))
        reading = FolderSync.objects.filter(mailbox=inbox, last_attempt_at__isnull=False)
        wait_until(reading.exists, "the sync to begin", 30.0, workers)
        # ...and they send an email from it at once: the send job it queued on commit.
        outbound = submit(owner, inbox, subject="Quote while you sync")
        (queued,) = queued_jobs.args_of(jobs.SEND_OUTBOUND)
        publish(broker, jobs.SEND_OUTBOUND, queued)
        took = wait_until(lambda: smtp_sink.messages, "the email to go out", SEND_WITHIN, workers)

        # Still syncing: the inbox has no finished sync and its folder is part-way through.
        folder = FolderSync.objects.get(mailbox=inbox, role="inbox")
        assert Mailbox.objects.get(pk=inbox.pk).last_sync_at is None, (
            f"the sync ended before the send ({took:.1f} s)"
        )
        assert folder.progress_done < MESSAGES
        (sent,) = smtp_sink.messages
        assert header(sent.data, "Subject") == "Quote while you sync"
        wait_until(
            lambda: reload(outbound).status == SendStatus.SENT, "the send's result", 10.0, workers
        )

        # The sync goes on to the end undisturbed.
        sync_took = wait_until(
            lambda: Mailbox.objects.filter(pk=inbox.pk, last_sync_at__isnull=False).exists(),
            "the sync to finish",
            SYNC_WITHIN,
            workers,
        )
        assert FolderSync.objects.get(pk=folder.pk).logged == MESSAGES
        # Queued behind the sync, as on one shared queue, the email would have missed the limit.
        assert took + sync_took > SEND_WITHIN, "the inbox is too small to show anything"
    finally:
        for worker in workers:
            worker.stop()
        broker.release()
