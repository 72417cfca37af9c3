"""150 enrollments due at once in one inbox: the tick queues all their emails, and two real
sending worker processes never put more than 3 sequence emails into any minute (the SMTP
sink's arrival times), while one-to-one mail of the same inbox goes out beside them.

The limit is counted in the database (mailboxes/outbox/throttle.py), so it holds across the
two workers. The test watches one minute boundary: the minute after it takes exactly 3.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from mailboxes.constants import SendSource, SendStatus
from mailboxes.models import Outbound
from mailboxes.models.outbound import MINUTE, window_start
from sequences.engine.tick import tick
from tests.factories import ContactFactory
from tests.integration.test_send_limits import (
    next_boundary,
    sleep_until,
    start_loop,
    stop,
    wait_ready,
)
from tests.mailboxes.inboxes import imap_mailbox
from tests.mailboxes.outbox import header, submit
from tests.sequences.engine_setup import email_step, enroll, make_sequence

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning"),
    pytest.mark.timeout(200),
]
ENROLLMENTS = 150
# The inbox's own limits are far above the sequence limit: only that one binds.
PER_MINUTE, PER_DAY = 30, 2000
AFTER = 8.0


@pytest.mark.django_db(transaction=True)
def test_150_enrollments_never_put_more_than_3_sequence_emails_into_a_minute(
    owner, dovecot, smtp_sink
):
    inbox = imap_mailbox(
        owner, dovecot, smtp_sink, send_per_minute=PER_MINUTE, send_per_day=PER_DAY
    )
    sequence = make_sequence(owner, [email_step()], business_days_only=False)
    now = timezone.now()
    for n in range(ENROLLMENTS):
        contact = ContactFactory(owner=owner, first_name=f"P{n}", emails=[f"p{n}@acme.example"])
        enroll(sequence, contact, inbox, now)
    assert tick(seconds=120) == {"email": ENROLLMENTS}
    queued = Outbound.objects.filter(source=SendSource.SEQUENCE)
    assert queued.count() == ENROLLMENTS

    workers = [start_loop() for _ in range(2)]
    try:
        for worker in workers:
            wait_ready(worker)
        # One-to-one mail of the same inbox, written while the sequence mail waits.
        notes = [submit(owner, inbox, subject=f"Note {n}").pk for n in range(2)]
        boundary = next_boundary(1.0)
        sleep_until(boundary + timedelta(seconds=AFTER))
    finally:
        errors = [stop(worker) for worker in workers]
    assert all(w.returncode == 0 for w in workers), errors

    sequence_mail = Counter()
    notes_sent = []
    ids = [header(m.data, "Message-ID") for m in smtp_sink.messages]
    for message in smtp_sink.messages:
        subject = header(message.data, "Subject")
        if subject.startswith("Note"):
            notes_sent.append(subject)
            continue
        arrived = datetime.fromtimestamp(message.received_at, UTC)
        sequence_mail[window_start(MINUTE, arrived)] += 1
    assert len(ids) == len(set(ids)), "an email went out twice"
    assert max(sequence_mail.values()) <= 3, sequence_mail
    assert sequence_mail[boundary] == 3, sequence_mail
    # The one-to-one mail was not held back by the sequence limit.
    assert sorted(notes_sent) == ["Note 0", "Note 1"]
    assert Outbound.objects.filter(pk__in=notes, status=SendStatus.SENT).count() == 2
    # The rest waits in the outbox, saying why.
    waiting = queued.filter(status=SendStatus.QUEUED)
    assert waiting.count() == ENROLLMENTS - sum(sequence_mail.values())
    assert waiting.first().last_error.startswith(
        "Queued: waiting for the 3 a minute sequence limit"
    )
