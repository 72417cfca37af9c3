"""The receivers that end or pause enrollments: replies, bounces, opt-outs and meetings.
Each change goes through lifecycle (the row locked, a line of history)."""

from django.db import transaction
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from mailboxes import signals as mail_signals
from mailboxes.constants import SendSource
from mailboxes.models import EmailMessage
from mailboxes.outbox import guards
from privacy import signals as privacy_signals
from privacy.checks import SenderContext, can_email
from records import signals as record_signals
from records.calendar.clock import NoOpenHours
from records.models import Company, Contact

from .. import lifecycle
from ..constants import EndReason, EnrollmentStatus, EventKind
from ..models import Enrollment
from .absence import back_at
from .matching import Match, match_reply, may_match
from .outbox import send_guard

BY_HEADERS = gettext_lazy("Reply matched by thread headers")
BY_SUBJECT = gettext_lazy("Reply matched by address and subject: headers were rewritten")


def _how(match: Match) -> str:
    return str(BY_HEADERS if match.by_headers else BY_SUBJECT)


def _live(pk: int) -> Enrollment | None:
    """The enrollment locked, if still live (call inside a transaction)."""
    enrollment = lifecycle.locked(pk)
    return enrollment if enrollment.status in EnrollmentStatus.live() else None


def stop(pk: int, reason: str, detail: str) -> bool:
    """End enrollment `pk` for `reason` if it is still live (its queued email is cancelled
    by lifecycle.end); False if it had ended."""
    with transaction.atomic():
        enrollment = _live(pk)
        return enrollment is not None and lifecycle.end(enrollment, reason, detail)


# -- replies -------------------------------------------------------------------------------


def on_replies_received(sender, event: mail_signals.RepliesReceived, **kwargs) -> None:
    """A sync page's replies: those that may answer a live enrollment, found in a query or
    two for the page, are matched one by one."""
    for reply in may_match(event.replies):
        _answer(reply)


def _answer(event: mail_signals.ReplyReceived) -> None:
    message = EmailMessage.objects.filter(pk=event.message_id).only("subject", "from_addr").first()
    if message is None:
        return
    at = event.received_at or timezone.now()
    for match in match_reply(event, message, at):
        if event.is_auto_reply:
            _auto_reply(match, event)
        else:
            _reply(match)


def _reply(match: Match) -> None:
    with transaction.atomic():
        enrollment = _live(match.enrollment_id)
        if enrollment is None:
            return
        sequence = enrollment.sequence
        if sequence.unenroll_on_reply:
            lifecycle.end(enrollment, EndReason.REPLIED, _how(match))
        else:
            lifecycle.record(
                enrollment,
                EventKind.REPLY,
                _("%(how)s. The sequence goes on: unenroll on reply is off.")
                % {"how": _how(match)},
            )
    if sequence.unenroll_company_on_reply:
        _end_colleagues(enrollment)


def _end_colleagues(enrollment: Enrollment) -> None:
    """End the live enrollments in the same sequence of the other contacts associated with
    the companies the replying contact is associated with."""
    companies = Company.objects.filter(links_in__from_record_id=enrollment.contact_id)
    colleagues = Contact.objects.filter(links_in__from_record__in=companies).exclude(
        pk=enrollment.contact_id
    )
    others = Enrollment.objects.filter(
        sequence_id=enrollment.sequence_id,
        contact__in=colleagues,
        status__in=EnrollmentStatus.live(),
    ).values_list("pk", flat=True)
    name = Contact.objects.filter(pk=enrollment.contact_id).values_list("name", flat=True).first()
    detail = _("%(name)s, at the same company, replied.") % {"name": name or _("A colleague")}
    for pk in list(others.distinct()):
        stop(pk, EndReason.COMPANY_REPLIED, detail)


def _auto_reply(match: Match, event: mail_signals.ReplyReceived) -> None:
    """An auto-reply never ends an enrollment: an out-of-office with a return date pauses it
    until one business day after that date; any other goes in its history only."""
    # Stored in English (mailboxes/mime/autoreply.py marks the reasons for the catalogue).
    reason = _(event.auto_reply_reason) if event.auto_reply_reason else _("automatic reply")
    with transaction.atomic():
        enrollment = _live(match.enrollment_id)
        if enrollment is None:
            return
        if event.return_date is None:
            lifecycle.record(
                enrollment,
                EventKind.AUTO_REPLY,
                _("Automatic reply (%(reason)s) without a return date: the sequence goes on.")
                % {"reason": reason},
            )
            return
        back = formats.date_format(event.return_date, "DATE_FORMAT")
        try:
            until = back_at(enrollment, event.return_date)
        except NoOpenHours:
            until = None
        if until is None or until <= timezone.now():
            lifecycle.record(
                enrollment,
                EventKind.AUTO_REPLY,
                _("Out of office until %(back)s, which has passed: the sequence goes on.")
                % {"back": back},
            )
            return
        words = _(
            "Out of office until %(back)s: paused until %(until)s (%(zone)s), one business "
            "day after."
        ) % {
            "back": back,
            "until": formats.date_format(until, "DATETIME_FORMAT"),
            "zone": enrollment.time_zone,
        }
        if not lifecycle.pause(enrollment, words, until=until):
            # Paused already (waiting on a task, or an earlier out-of-office): noted only.
            lifecycle.record(enrollment, EventKind.AUTO_REPLY, words)


# -- bounces, opt-outs, meetings -------------------------------------------------------------


def on_bounce_recorded(sender, event: mail_signals.BounceRecorded, **kwargs) -> None:
    """A hard bounce ends the enrollment whose email bounced, and that of any contact of the
    report whose primary address bounced on another email (the next step would bounce too).
    A soft bounce (a full mailbox, a server down) is noted in the history: the next step may
    well be delivered."""
    ours = event.source == SendSource.SEQUENCE and event.source_id is not None
    if not event.hard:
        if ours:
            with transaction.atomic():
                enrollment = _live(event.source_id)
                if enrollment is not None:
                    lifecycle.record(
                        enrollment,
                        EventKind.BOUNCE,
                        _("Soft bounce: %(reason)s. The sequence goes on.")
                        % {"reason": event.reason},
                    )
        return
    ids = {event.source_id} if ours else set()
    if event.address:
        ids.update(
            Enrollment.objects.filter(
                contact_id__in=event.contact_ids,
                contact__email__iexact=event.address,
                status__in=EnrollmentStatus.live(),
            ).values_list("pk", flat=True)
        )
    for pk in sorted(ids):
        stop(pk, EndReason.BOUNCED, _("Hard bounce: %(reason)s") % {"reason": event.reason})


def on_permission_withdrawn(sender, event: privacy_signals.PermissionWithdrawn, **kwargs) -> None:
    """An opt-out or a revoked legal basis: end the contact's live enrollment if sequence
    email to them is no longer allowed (the privacy check decides, in words for the rep)."""
    enrollment = Enrollment.objects.filter(
        contact_id=event.contact_id, status__in=EnrollmentStatus.live()
    ).first()
    if enrollment is None:
        return
    decision = can_email(enrollment.contact, SenderContext.SEQUENCE)
    if not decision.allowed:
        stop(enrollment.pk, EndReason.UNSUBSCRIBED, decision.message)


def on_meeting_booked(sender, event: record_signals.MeetingBooked, **kwargs) -> None:
    """A meeting logged with contacts ends each attendee's live enrollment whose sequence
    says "unenroll when a meeting is booked"."""
    ids = Enrollment.objects.filter(
        contact_id__in=event.contact_ids,
        status__in=EnrollmentStatus.live(),
        sequence__unenroll_on_meeting=True,
    ).values_list("pk", flat=True)
    when = formats.date_format(timezone.localtime(event.starts_at), "DATETIME_FORMAT")
    for pk in sorted(ids):
        stop(pk, EndReason.MEETING, _("Booked a meeting for %(when)s.") % {"when": when})


def connect() -> None:
    """Wire the receivers and the send guard (sequences/apps.py ready())."""
    uid = "sequences.stopping"
    mail_signals.replies_received.connect(on_replies_received, dispatch_uid=f"{uid}.reply")
    mail_signals.bounce_recorded.connect(on_bounce_recorded, dispatch_uid=f"{uid}.bounce")
    privacy_signals.permission_withdrawn.connect(
        on_permission_withdrawn, dispatch_uid=f"{uid}.privacy"
    )
    record_signals.meeting_booked.connect(on_meeting_booked, dispatch_uid=f"{uid}.meeting")
    guards.register(SendSource.SEQUENCE, send_guard)
