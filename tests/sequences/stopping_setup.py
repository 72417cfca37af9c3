"""Enrollments and their emails for the stopping tests, written the way the tick will: the
email queued through the enqueue service with the enrollment as its source, and the step run
that records it."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from mailboxes.constants import Direction, SendSource, SendStatus
from mailboxes.models import EmailMessage, EmailThread, Outbound
from mailboxes.outbox.enqueue import OutgoingEmail, Source, email_enqueue
from privacy.constants import SenderContext
from sequences.constants import StepKind
from sequences.models import Enrollment, Sequence, StepRun


def enroll(owner, mailbox, contact, sequence=None, **settings) -> Enrollment:
    sequence = sequence or Sequence.objects.create(name="Follow up", owner=owner, **settings)
    return Enrollment.objects.create(
        sequence=sequence,
        contact=contact,
        enrolled_by=owner,
        mailbox=mailbox,
        from_address=mailbox.email,
        time_zone="America/New_York",
    )


def queue_step(
    enrollment: Enrollment, position: int, subject: str, *, after: EmailMessage | None = None
) -> Outbound:
    """Queue step `position`'s email (a reply in the thread of `after`, when given)."""
    contact = enrollment.contact
    with transaction.atomic():
        message = email_enqueue(
            OutgoingEmail(
                mailbox=enrollment.mailbox,
                from_address=enrollment.from_address,
                from_name="",
                subject=subject,
                html=f"<p>Hello {contact.first_name}, step {position + 1}.</p>",
                to=[contact.email],
                privacy_context=SenderContext.SEQUENCE,
                source=Source(SendSource.SEQUENCE, id=enrollment.pk),
                sender=enrollment.enrolled_by,
                contacts=[contact],
                thread=after.thread if after else None,
                reply_to=after,
                track=False,
            )
        )
        StepRun.objects.create(
            enrollment=enrollment,
            position=position,
            kind=StepKind.AUTO_EMAIL,
            outbound=message.outbound,
        )
    return message.outbound


def mark_sent(outbound: Outbound) -> EmailMessage:
    """Record an email as sent, as the worker does once the provider accepted it (unit tests;
    the integration tests send to the sink)."""
    now = timezone.now()
    Outbound.objects.filter(pk=outbound.pk).update(status=SendStatus.SENT, sent_at=now)
    EmailMessage.objects.filter(pk=outbound.message_id).update(sent_at=now)
    return EmailMessage.objects.get(pk=outbound.message_id)


def incoming(contact, subject: str, *, thread: EmailThread | None = None, **fields) -> EmailMessage:
    """An email from `contact` as sync logs it: in `thread` when its headers named one of
    ours, else in a thread of its own."""
    thread = thread or EmailThread.objects.create(subject=subject)
    message = EmailMessage.objects.create(
        thread=thread,
        direction=Direction.INCOMING,
        from_addr=fields.pop("from_addr", contact.email),
        subject=subject,
        sent_at=fields.pop("sent_at", timezone.now()),
        **fields,
    )
    message.contacts.add(contact)
    return message
