"""A broker outage costs the user nothing: an email submitted in the composer while Redis is down
(refusing connections, or accepting them and never answering) is saved as at any time, its
send job is given up at once with one line in the log and no traceback, and the periodic
`send_due` sends it. Queueing used to take ~650 ms and log a traceback when Redis refused
connections, and to wait forever when it hung."""

from __future__ import annotations

import logging
import time

import pytest
import redis
from django.utils import timezone

from mailboxes import jobs
from mailboxes.constants import SendStatus
from mailboxes.models import Outbound
from mailboxes.outbox.sending import send_due
from records import jobs as queueing

from .inboxes import imap_mailbox

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db,
    pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning"),
    # The old code waited forever on a hung Redis: fail, never hang.
    pytest.mark.timeout(60),
]
# The enqueue waits at most jobs.ENQUEUE_TIMEOUT (0.2 s) on a hung Redis, about a millisecond
# on a refusing one; the rest is margin for a loaded 2-core CI machine.
ENQUEUE_WITHIN = 0.5


@pytest.fixture
def inbox(owner, dovecot, smtp_sink):
    return imap_mailbox(owner, dovecot, smtp_sink)


@pytest.fixture
def compose(client, owner, contact, inbox, django_capture_on_commit_callbacks):
    """Submit an email through the composer; return the seconds its enqueue took (the on-commit
    callbacks the request left, run as the commit at the end of the request would)."""
    client.force_login(owner)

    def submit(subject: str) -> float:
        with django_capture_on_commit_callbacks() as callbacks:
            response = client.post(
                f"/records/contacts/{contact.pk}/email/",
                {
                    "from_key": f"{inbox.pk}:{inbox.email}",
                    "to": "olivia@acme.example",
                    "subject": subject,
                    "html": "<p>Dear Olivia, here is the offer.</p>",
                    "records": [str(contact.pk)],
                    "send_when": "now",
                },
            )
        assert response.status_code == 302, response.content.decode()[:2000]
        started = time.monotonic()
        for callback in callbacks:
            callback()
        return time.monotonic() - started

    return submit


def tracebacks(caplog) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.exc_info]


def outage_warnings(caplog) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == queueing.__name__ and record.levelno == logging.WARNING
    ]


def test_an_email_submitted_while_the_broker_is_down_is_saved_at_once_and_sent_by_send_due(
    compose, celery_broker, dead_broker, smtp_sink, caplog
):
    celery_broker(dead_broker)
    with caplog.at_level(logging.INFO):
        # A process's first job loads the Redis client (0.1-0.5 s here), outage or not.
        compose("First offer")
        took = compose("Second offer")

    assert took < ENQUEUE_WITHIN, f"queueing took {took:.3f} s"
    assert tracebacks(caplog) == []
    # One line for both (none when another test of this process warned in the last minute).
    assert len(outage_warnings(caplog)) <= 1
    saved = Outbound.objects.filter(message__subject__in=["First offer", "Second offer"])
    assert [(o.status, o.next_attempt_at <= timezone.now()) for o in saved] == [
        (SendStatus.QUEUED, True),
        (SendStatus.QUEUED, True),
    ]

    # Beat's periodic pass finds the due rows.
    assert send_due() == {SendStatus.SENT: 2}
    assert len(smtp_sink.messages) == 2


def test_redis_stopped_hung_and_back(compose, celery_broker, redis_server, smtp_sink, caplog):
    celery_broker(redis_server.url)
    queued = redis.Redis.from_url(redis_server.url)

    with caplog.at_level(logging.INFO):
        compose("While Redis runs")
        assert queued.llen("send") == 1  # routed to the send queue

        redis_server.stop()
        refused_took = compose("While Redis is stopped")
        (warning,) = outage_warnings(caplog)
        assert warning.startswith("broker unreachable (OperationalError: ")
        assert warning.endswith(f": {jobs.SEND_OUTBOUND} not queued")

        redis_server.start()  # empty: the job given up on is not there
        compose("Once Redis is back")
        assert queued.llen("send") == 1
        assert caplog.records[-1].getMessage() == "broker reachable again"

        redis_server.pause()
        try:
            hung_took = compose("While Redis hangs")
        finally:
            redis_server.resume()
        assert len(outage_warnings(caplog)) == 2

    assert refused_took < ENQUEUE_WITHIN, f"queueing took {refused_took:.3f} s"
    assert hung_took < ENQUEUE_WITHIN, f"queueing took {hung_took:.3f} s"
    assert tracebacks(caplog) == []
    # Every email was saved and goes out, queued or not.
    assert send_due() == {SendStatus.SENT: 4}
    assert len(smtp_sink.messages) == 4
