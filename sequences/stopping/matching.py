"""Which live enrollments an incoming email answers.

1. By thread headers: sync put the email in the thread of the rep's emails it replies to
   (`replied_to`, joined by Message-ID / In-Reply-To / References, never by subject); those
   that a sequence queued name their enrollment (Outbound.source_id).
2. When a mail client or provider rewrote the headers, the email lands in a thread of its own
   and nothing of ours is in it: then a live enrollment of the contact who sent it (by their
   address) whose emails, sent in its life, have the same normalised subject ("Re:", "AW:",
   "[EXTERNAL]", case and spacing aside) and that started before the email came.

An automatic reply matches by headers too, else the sender's live enrollment: an
out-of-office says the person is away whichever email it answered (its subject is its own).
"""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import F

from mailboxes.constants import SendSource, SendStatus
from mailboxes.models import EmailMessage, Outbound
from mailboxes.signals import ReplyReceived
from mailboxes.sync.threads import normalize_subject
from records.bulk import AnyOf

from ..constants import EnrollmentStatus
from ..models import Enrollment, StepRun


@dataclass(frozen=True)
class Match:
    enrollment_id: int
    by_headers: bool


def _by_headers(replied_to: tuple[int, ...]) -> list[int]:
    if not replied_to:
        return []
    ids = Outbound.objects.filter(
        message_id__in=replied_to, source=SendSource.SEQUENCE, source_id__isnull=False
    ).values_list("source_id", flat=True)
    return list(
        Enrollment.objects.filter(pk__in=set(ids), status__in=EnrollmentStatus.live())
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def _senders_enrollments(message: EmailMessage, contact_ids, at: datetime):
    """The live enrollments of the contacts among `contact_ids` whose address sent
    `message`, started by `at`."""
    return Enrollment.objects.filter(
        contact_id__in=contact_ids,
        contact__emails__address__iexact=message.from_addr,
        status__in=EnrollmentStatus.live(),
        started_at__lte=at,
    ).order_by("pk")


def _subjects_sent(enrollment_ids: list[int]) -> dict[int, set[str]]:
    """{enrollment id: normalised subjects of the emails it sent}."""
    rows = StepRun.objects.filter(
        enrollment_id__in=enrollment_ids,
        outbound__status__in=(SendStatus.SENT, SendStatus.RECONCILED),
    ).values_list("enrollment_id", "outbound__message__subject")
    subjects: dict[int, set[str]] = {}
    for enrollment_id, subject in rows:
        subjects.setdefault(enrollment_id, set()).add(normalize_subject(subject))
    return subjects


def may_match(replies: tuple[ReplyReceived, ...]) -> list[ReplyReceived]:
    """The replies of a sync page that may answer a live enrollment, in two queries at most,
    so that mail from contacts in no sequence (most of it) costs nothing per email.

    One of the contacts who wrote it has a live enrollment, or an email of its thread was
    queued by a live enrollment (whoever that enrollment's contact is)."""
    live = Enrollment.objects.filter(status__in=EnrollmentStatus.live())
    contacts = {pk for reply in replies for pk in reply.contact_ids}
    enrolled = set(
        live.filter(AnyOf(F("contact_id"), contacts)).values_list("contact_id", flat=True)
    )
    threads = {pk for reply in replies for pk in reply.replied_to}
    queued = set()
    if threads:
        queued = set(
            Outbound.objects.filter(
                AnyOf(F("message_id"), threads),
                source=SendSource.SEQUENCE,
                source_id__in=live.values("pk"),
            ).values_list("message_id", flat=True)
        )
    return [
        reply
        for reply in replies
        if enrolled.intersection(reply.contact_ids) or queued.intersection(reply.replied_to)
    ]


def match_reply(event: ReplyReceived, message: EmailMessage, at: datetime) -> list[Match]:
    """The live enrollments `message` (the email of `event`, received `at`) answers."""
    by_headers = _by_headers(event.replied_to)
    if by_headers:
        return [Match(pk, True) for pk in by_headers]
    if not event.contact_ids or not message.from_addr:
        return []
    candidates = list(_senders_enrollments(message, event.contact_ids, at))
    if event.is_auto_reply:
        return [Match(e.pk, False) for e in candidates]
    key = normalize_subject(message.subject)
    if not key:
        return []
    sent = _subjects_sent([e.pk for e in candidates])
    return [Match(e.pk, False) for e in candidates if key in sent.get(e.pk, ())]
