"""A contact's reply stops their sequence through real sync (Dovecot) while the next step is
already claimed by a sending worker, and the step never reaches the SMTP sink (aiosmtpd);
with the reply's thread headers, or without them (rewritten by a gateway), by address and
subject. An out-of-office through sync pauses the enrollment instead."""

from datetime import timedelta
from email.message import EmailMessage as MimeMessage
from email.utils import format_datetime, make_msgid

import pytest
from django.utils import timezone

from mailboxes.constants import SendStatus
from mailboxes.outbox import sending
from mailboxes.sync.engine import sync_mailbox
from sequences.constants import EndReason, EnrollmentStatus, EventKind
from sequences.stopping.receivers import BY_HEADERS, BY_SUBJECT
from tests.mailboxes.inboxes import REP_ADDRESS, imap_mailbox
from tests.sequences.stopping_setup import enroll, queue_step

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
    pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning"),
]


def mime(subject, *, in_reply_to=None, body="Thanks, let's talk.", extra=None):
    msg = MimeMessage()
    msg["From"], msg["To"], msg["Subject"] = "Olivia <olivia@acme.example>", REP_ADDRESS, subject
    msg["Message-ID"] = make_msgid(domain="acme.example")
    # A minute on: the Date header has whole seconds, the enrollment started a moment ago.
    msg["Date"] = format_datetime(timezone.now() + timedelta(minutes=1))
    if in_reply_to:
        msg["In-Reply-To"] = msg["References"] = in_reply_to
    for name, value in (extra or {}).items():
        msg[name] = value
    msg.set_content(body)
    return bytes(msg)


@pytest.fixture
def claimed(owner, contact, dovecot, smtp_sink):
    """Step 1 sent to the sink; step 2 queued in its thread and claimed by a worker."""
    inbox = imap_mailbox(owner, dovecot, smtp_sink)
    enrollment = enroll(owner, inbox, contact)
    first = queue_step(enrollment, 0, "Quick question")
    assert sending.send_outbound(first.pk) == SendStatus.SENT
    second = queue_step(enrollment, 1, "Re: Quick question", after=first.message)
    claims = sending.claim_due()
    assert [c.id for c in claims] == [second.pk]
    return inbox, enrollment, first, second, claims


def sync_and_send(inbox, claims):
    """Sync the inbox (receivers run once its pages commit), then let the worker that
    claimed step 2 carry on."""
    sync_mailbox(inbox.pk)
    return sending.send_claimed(claims)


def test_a_reply_synced_while_step_two_is_claimed_ends_the_sequence_before_it_goes_out(
    claimed, dovecot, smtp_sink
):
    inbox, enrollment, first, second, claims = claimed
    first.message.refresh_from_db()
    dovecot.deliver(mime("Re: Quick question", in_reply_to=first.message.message_id))

    sync_and_send(inbox, claims)

    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.end_reason) == (
        EnrollmentStatus.ENDED,
        EndReason.REPLIED,
    )
    assert enrollment.events.get().detail == str(BY_HEADERS)
    second.refresh_from_db()
    assert second.status == SendStatus.CANCELLED
    assert len(smtp_sink.messages) == 1  # step 1 only
    # Later passes find nothing to send either.
    assert sending.send_due() == {}
    assert len(smtp_sink.messages) == 1


def test_a_reply_whose_thread_headers_were_removed_is_matched_by_address_and_subject(
    claimed, dovecot, smtp_sink
):
    inbox, enrollment, _first, second, claims = claimed
    dovecot.deliver(mime("RE: [EXTERNAL] Quick question"))

    sync_and_send(inbox, claims)

    enrollment.refresh_from_db()
    assert enrollment.end_reason == EndReason.REPLIED
    assert enrollment.events.get().detail == str(BY_SUBJECT)
    second.refresh_from_db()
    assert second.status == SendStatus.CANCELLED
    assert len(smtp_sink.messages) == 1


def test_an_out_of_office_synced_pauses_the_sequence_and_holds_the_claimed_step_back(
    claimed, dovecot, smtp_sink
):
    inbox, enrollment, first, second, claims = claimed
    back = timezone.localdate() + timedelta(days=10)
    dovecot.deliver(
        mime(
            "Automatic reply: Quick question",
            in_reply_to=first.message.message_id,
            extra={"Auto-Submitted": "auto-replied"},
            body=f"I am away and back on {back:%d %B %Y}. For urgent matters call Paul.",
        )
    )

    sync_and_send(inbox, claims)

    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.PAUSED
    assert enrollment.paused_until.date() > back
    event = enrollment.events.get()
    assert event.kind == EventKind.PAUSED and event.detail.startswith("Out of office until")
    # Paused, not ended: the step queued before the out-of-office came waits for the
    # contact's return (the claiming worker loses), and is not lost.
    second.refresh_from_db()
    assert (second.status, second.scheduled_at) == (SendStatus.SCHEDULED, enrollment.paused_until)
    assert len(smtp_sink.messages) == 1
