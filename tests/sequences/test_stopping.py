"""What ends or pauses an enrollment from outside: replies (by thread headers, or by address
and subject when headers were rewritten), auto-replies, bounces, opt-outs, meetings, and the
send-time re-check that cancels a queued email of an ended enrollment."""

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from mailboxes import signals
from mailboxes.constants import Direction, OutboundEventKind, SendSource, SendStatus
from mailboxes.models import EmailMessage, OutboundEvent
from mailboxes.outbox import sending
from privacy.constants import LegalBasisKind, OptOutSource, SubscriptionKind, SubscriptionState
from privacy.models import PrivacySettings, SubscriptionType
from privacy.services import (
    legal_basis_record,
    legal_basis_revoke,
    opt_out_of_all,
    subscription_set,
)
from records.constants import MeetingOutcome
from records.models import Holiday
from records.services import association_create, meeting_log
from sequences.constants import EndReason, EnrollmentStatus, EventKind
from sequences.stopping.outbox import send_guard
from sequences.stopping.receivers import BY_HEADERS, BY_SUBJECT, stop
from tests.factories import CompanyFactory, ContactFactory
from tests.mailboxes.inboxes import offline_mailbox

from .stopping_setup import enroll, incoming, mark_sent, queue_step

pytestmark = pytest.mark.django_db

NEW_YORK = ZoneInfo("America/New_York")


@pytest.fixture
def inbox(owner):
    return offline_mailbox(owner)


@pytest.fixture
def running(owner, inbox, contact):
    """An enrollment whose step 1 went out and whose step 2 is queued in its thread."""
    enrollment = enroll(owner, inbox, contact)
    first = mark_sent(queue_step(enrollment, 0, "Quick question"))
    second = queue_step(enrollment, 1, "Re: Quick question", after=first)
    return enrollment, first, second


def reply(message, *, auto=False, back=None, at=None):
    """Send replies_received for `message` as sync does once it committed its page."""
    ours = EmailMessage.objects.filter(thread=message.thread, direction=Direction.OUTGOING)
    event = signals.ReplyReceived(
        message_id=message.pk,
        thread_id=message.thread_id,
        mailbox_id=message.mailbox_id or 0,
        contact_ids=tuple(message.contacts.values_list("pk", flat=True)),
        replied_to=tuple(ours.order_by("pk").values_list("pk", flat=True)),
        received_at=at or message.sent_at,
        is_auto_reply=auto,
        auto_reply_reason="auto-reply" if auto else "",
        return_date=back,
    )
    signals.replies_received.send(sender=__name__, event=signals.RepliesReceived((event,)))


def history(enrollment):
    return list(enrollment.events.values_list("kind", "detail"))


def assert_cancelled(outbound):
    outbound.refresh_from_db()
    assert outbound.status == SendStatus.CANCELLED
    [event] = OutboundEvent.objects.filter(outbound=outbound)
    assert event.kind == OutboundEventKind.CANCELLED
    assert "sequence enrollment ended" in event.detail


def test_a_reply_in_the_thread_ends_the_enrollment_and_cancels_the_queued_step(running, contact):
    enrollment, first, second = running
    reply(incoming(contact, "Re: Quick question", thread=first.thread))

    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.end_reason) == (
        EnrollmentStatus.ENDED,
        EndReason.REPLIED,
    )
    assert history(enrollment) == [(EventKind.ENDED, str(BY_HEADERS))]
    assert_cancelled(second)


def test_a_reply_whose_headers_were_rewritten_is_matched_by_address_and_subject(running, contact):
    enrollment, _first, second = running
    # Its own thread: a gateway dropped In-Reply-To and References and tagged the subject.
    reply(incoming(contact, "RE:  [EXTERNAL]  AW: quick   Question"))

    enrollment.refresh_from_db()
    assert enrollment.end_reason == EndReason.REPLIED
    assert history(enrollment) == [(EventKind.ENDED, str(BY_SUBJECT))]
    assert_cancelled(second)


def test_mail_from_the_contact_that_is_not_a_reply_in_the_enrollments_life_does_not_end_it(
    running, contact
):
    enrollment, _first, second = running
    # Another subject: a reply to an unrelated thread.
    reply(incoming(contact, "Re: Invoice 2291"))
    # The same subject, but written before the enrollment started (an old thread synced late).
    before = enrollment.started_at - timedelta(days=30)
    reply(incoming(contact, "Re: Quick question", sent_at=before), at=before)
    # The same subject from an address the contact does not own.
    reply(incoming(contact, "Re: Quick question", from_addr="someone@else.example"))

    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.ACTIVE
    assert history(enrollment) == []
    second.refresh_from_db()
    assert second.status == SendStatus.QUEUED


def test_with_unenroll_on_reply_off_a_reply_is_noted_and_the_sequence_goes_on(
    owner, inbox, contact
):
    enrollment = enroll(owner, inbox, contact, unenroll_on_reply=False)
    first = mark_sent(queue_step(enrollment, 0, "Quick question"))
    reply(incoming(contact, "Re: Quick question", thread=first.thread))

    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.ACTIVE
    [(kind, detail)] = history(enrollment)
    assert kind == EventKind.REPLY
    assert detail.startswith(str(BY_HEADERS)) and "unenroll on reply is off" in detail


def test_a_reply_ends_colleagues_at_the_same_company_in_the_same_sequence(owner, inbox, contact):
    company = CompanyFactory(owner=owner, name="Acme")
    colleague = ContactFactory(owner=owner, emails=["carl@acme.example"])
    elsewhere = ContactFactory(owner=owner, emails=["dora@acme.example"])
    stranger = ContactFactory(owner=owner, emails=["eve@other.example"])
    for person in (contact, colleague, elsewhere):
        association_create(person, company)
    enrollment = enroll(owner, inbox, contact, unenroll_company_on_reply=True)
    theirs = enroll(owner, inbox, colleague, enrollment.sequence)
    other_sequence = enroll(owner, inbox, elsewhere)
    unrelated = enroll(owner, inbox, stranger, enrollment.sequence)
    queued = queue_step(theirs, 0, "Quick question")
    first = mark_sent(queue_step(enrollment, 0, "Quick question"))

    reply(incoming(contact, "Re: Quick question", thread=first.thread))

    for row in (enrollment, theirs, other_sequence, unrelated):
        row.refresh_from_db()
    assert enrollment.end_reason == EndReason.REPLIED
    assert theirs.end_reason == EndReason.COMPANY_REPLIED
    assert history(theirs) == [(EventKind.ENDED, "Olivia Owned, at the same company, replied.")]
    assert_cancelled(queued)
    assert other_sequence.status == unrelated.status == EnrollmentStatus.ACTIVE


def next_weekday(weekday: int, at_least: int = 7) -> date:
    day = timezone.localdate() + timedelta(days=at_least)
    return day + timedelta(days=(weekday - day.weekday()) % 7)


def test_an_out_of_office_on_a_friday_before_a_holiday_pauses_until_tuesday_morning(
    running, contact
):
    enrollment, first, second = running
    friday = next_weekday(4)
    Holiday.objects.create(date=friday + timedelta(days=3), name="Bank holiday")
    ooo = incoming(contact, "Automatic reply: Quick question", thread=first.thread)
    reply(ooo, auto=True, back=friday)

    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.PAUSED
    tuesday = friday + timedelta(days=4)
    # One business day after Friday, Monday being a holiday: Tuesday, at the opening (09:00)
    # in the enrollment's zone.
    assert enrollment.paused_until == datetime.combine(tuesday, time(9), tzinfo=NEW_YORK)
    [(kind, detail)] = history(enrollment)
    assert kind == EventKind.PAUSED and detail.startswith("Out of office until")
    # An auto-reply never ends the enrollment: its step 2, already queued, waits for the
    # contact's return instead of landing in an absent inbox.
    second.refresh_from_db()
    assert (second.status, second.scheduled_at) == (SendStatus.SCHEDULED, enrollment.paused_until)
    assert second.next_attempt_at == enrollment.paused_until
    assert OutboundEvent.objects.filter(outbound=second).last().detail.startswith("Held back")


def test_an_out_of_office_with_a_rewritten_thread_still_pauses_the_senders_enrollment(
    running, contact
):
    enrollment, _first, _second = running
    wednesday = next_weekday(2)
    reply(incoming(contact, "Out of office"), auto=True, back=wednesday)
    enrollment.refresh_from_db()
    assert enrollment.paused_until == datetime.combine(
        wednesday + timedelta(days=1), time(9), tzinfo=NEW_YORK
    )


def test_an_auto_reply_without_a_return_date_is_noted_and_the_sequence_goes_on(running, contact):
    enrollment, first, second = running
    reply(incoming(contact, "Automatic reply", thread=first.thread), auto=True)

    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.ACTIVE
    assert history(enrollment) == [
        (
            EventKind.AUTO_REPLY,
            "Automatic reply (auto-reply) without a return date: the sequence goes on.",
        )
    ]


def bounce(outbound, *, hard, source=SendSource.SEQUENCE, source_id=None):
    signals.bounce_recorded.send(
        sender=__name__,
        event=signals.BounceRecorded(
            message_id=outbound.message_id,
            outbound_id=outbound.pk,
            address="olivia@acme.example",
            hard=hard,
            reason="550 5.1.1 User unknown" if hard else "452 4.2.2 Mailbox full",
            source=source,
            source_id=source_id if source_id is not None else outbound.source_id,
            contact_ids=tuple(outbound.contact_ids),
        ),
    )


def test_a_soft_bounce_is_noted_and_a_hard_bounce_ends_the_enrollment(running):
    enrollment, first, second = running
    bounce(first.outbound, hard=False)
    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.ACTIVE
    assert history(enrollment) == [
        (EventKind.BOUNCE, "Soft bounce: 452 4.2.2 Mailbox full. The sequence goes on.")
    ]

    bounce(first.outbound, hard=True)
    enrollment.refresh_from_db()
    assert enrollment.end_reason == EndReason.BOUNCED
    assert history(enrollment)[-1] == (EventKind.ENDED, "Hard bounce: 550 5.1.1 User unknown")
    assert_cancelled(second)


def test_a_hard_bounce_of_a_one_to_one_email_to_the_same_address_ends_it_too(running):
    enrollment, first, _second = running
    bounce(first.outbound, hard=True, source=SendSource.ONE_TO_ONE, source_id=0)
    enrollment.refresh_from_db()
    assert enrollment.end_reason == EndReason.BOUNCED


def test_an_opt_out_ends_the_enrollment_once_it_commits(
    running, contact, owner, django_capture_on_commit_callbacks
):
    enrollment, _first, second = running
    with django_capture_on_commit_callbacks(execute=True):
        opt_out_of_all(contact, source=OptOutSource.ONE_CLICK)
    enrollment.refresh_from_db()
    assert enrollment.end_reason == EndReason.UNSUBSCRIBED
    [(kind, detail)] = history(enrollment)
    assert kind == EventKind.ENDED and "opted out" in detail.lower()
    assert_cancelled(second)


def log_meeting(owner, record, outcome=MeetingOutcome.SCHEDULED, attendees=()):
    return meeting_log(
        owner,
        record,
        title="Demo",
        starts_at=timezone.now() + timedelta(days=2),
        duration_minutes=30,
        outcome=outcome,
        attendees=attendees,
    )


def test_a_booked_meeting_ends_the_enrollment_once_it_commits(
    running, owner, contact, django_capture_on_commit_callbacks
):
    enrollment, _first, second = running
    enrollment.sequence.unenroll_on_meeting = True
    enrollment.sequence.save()
    with django_capture_on_commit_callbacks(execute=True):
        log_meeting(owner, contact, MeetingOutcome.CANCELED)
    enrollment.refresh_from_db()
    assert enrollment.status in EnrollmentStatus.live()  # a canceled meeting was not booked
    with django_capture_on_commit_callbacks(execute=True):
        log_meeting(owner, contact)
    enrollment.refresh_from_db()
    assert enrollment.end_reason == EndReason.MEETING
    [(kind, detail)] = history(enrollment)
    assert kind == EventKind.ENDED and detail.startswith("Booked a meeting for ")
    assert_cancelled(second)


def test_a_meeting_on_a_company_ends_its_attendees_enrollments_only_where_the_sequence_says_so(
    owner, inbox, contact, django_capture_on_commit_callbacks
):
    company = CompanyFactory()
    other = ContactFactory()
    association_create(company, contact)
    association_create(company, other)
    ends = enroll(owner, inbox, contact, unenroll_on_meeting=True)
    keeps = enroll(owner, inbox, other, unenroll_on_meeting=False)
    with django_capture_on_commit_callbacks(execute=True):
        log_meeting(owner, company, attendees=[contact, other])
    ends.refresh_from_db()
    keeps.refresh_from_db()
    assert ends.end_reason == EndReason.MEETING
    assert keeps.status in EnrollmentStatus.live()


def test_the_send_guard_cancels_a_queued_email_of_an_ended_enrollment(running, inbox):
    enrollment, first, second = running
    assert send_guard(second) is None  # live: it may go
    # An email of the enrollment that ending could not see (queued, not yet recorded as a
    # step run): the worker asks the guard just before sending it.
    late = queue_step(enrollment, 2, "Re: Quick question", after=first)
    late_run = enrollment.runs.get(position=2)
    late_run.outbound = None
    late_run.save()
    assert stop(enrollment.pk, EndReason.MANUAL, "Unenrolled by the rep.")
    assert_cancelled(second)
    late.refresh_from_db()
    assert late.status == SendStatus.QUEUED

    assert sending.send_outbound(late.pk) == SendStatus.CANCELLED
    late.refresh_from_db()
    assert late.status == SendStatus.CANCELLED and late.attempts == 0
    [event] = OutboundEvent.objects.filter(outbound=late)
    assert event.kind == OutboundEventKind.CANCELLED
    assert event.detail == (
        "Not sent: the sequence enrollment ended before it went out (Unenrolled by a user)."
    )


def test_a_revoked_legal_basis_ends_the_enrollment_when_privacy_rules_are_on(
    running, contact, owner, django_capture_on_commit_callbacks
):
    PrivacySettings.objects.update_or_create(pk=1, defaults={"gdpr_enabled": True})
    basis = legal_basis_record(
        contact, owner, LegalBasisKind.LEGITIMATE_INTEREST_PROSPECT, "Asked us."
    )
    enrollment, _first, second = running
    with django_capture_on_commit_callbacks(execute=True):
        legal_basis_revoke(basis, actor=owner)
    enrollment.refresh_from_db()
    assert enrollment.end_reason == EndReason.UNSUBSCRIBED
    assert_cancelled(second)


def test_opting_out_of_one_to_one_email_ends_it_and_of_a_newsletter_does_not(
    running, contact, django_capture_on_commit_callbacks
):
    enrollment, _first, _second = running
    newsletter = SubscriptionType.objects.create(name="Newsletter")
    one_to_one = SubscriptionType.builtin(SubscriptionKind.ONE_TO_ONE)
    with django_capture_on_commit_callbacks(execute=True):
        subscription_set(
            contact, newsletter, SubscriptionState.OPTED_OUT, actor=None, by_contact=True
        )
    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.ACTIVE

    with django_capture_on_commit_callbacks(execute=True):
        subscription_set(
            contact, one_to_one, SubscriptionState.OPTED_OUT, actor=None, by_contact=True
        )
    enrollment.refresh_from_db()
    assert enrollment.end_reason == EndReason.UNSUBSCRIBED
