"""What a rep can do with an email in the outbox: cancel it, send it now, send it again,
or say that an uncertain one did go out; and who may (`perform`, which every page calls)."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from mailboxes import jobs
from mailboxes.constants import OutboundEventKind, SendSource, SendStatus
from mailboxes.models import EmailMessage, Outbound
from mailboxes.outbox import transports
from mailboxes.outbox.outcomes import WAITING, announce, record
from records import timeline


def _change(outbound: Outbound, statuses, words: str, history: str = "", **changes) -> Outbound:
    """Change the email if it is still in one of `statuses`; `words` (translated, with a
    %(status)s placeholder) say why not; `history`, when given, is the line its history keeps
    of the change."""
    with transaction.atomic():
        done = Outbound.objects.filter(pk=outbound.pk, status__in=statuses).update(**changes)
        if not done:
            outbound.refresh_from_db()
            raise ValidationError(words % {"status": str(outbound.get_status_display()).lower()})
        if history:
            record(outbound, OutboundEventKind.REP, history)
        outbound.refresh_from_db()
    return outbound


def outbound_cancel(outbound: Outbound) -> Outbound:
    """Cancel a scheduled or queued email. Raises ValidationError once it is being sent.

    A worker that claimed it but has not started sending loses: its own change is
    conditional on the status, which is no longer queued.
    """
    return _change(
        outbound,
        WAITING,
        _("This email can't be cancelled: it is %(status)s."),
        status=SendStatus.CANCELLED,
        claimed_at=None,
    )


def outbound_hold(outbound: Outbound, until, history: str) -> Outbound:
    """Hold a scheduled or queued email back until `until` (it becomes scheduled for then).
    Raises ValidationError once it is being sent."""
    outbound = _change(
        outbound,
        WAITING,
        _("This email can't be held back: it is %(status)s."),
        history,
        status=SendStatus.SCHEDULED,
        scheduled_at=until,
        next_attempt_at=until,
        claimed_at=None,
    )
    if outbound.message.activity_id:
        timeline.move(outbound.message.activity_id, until)
    return outbound


def outbound_send_now(outbound: Outbound) -> Outbound:
    """Send a scheduled or queued email now, ahead of its time (limits still apply).

    The timeline moves the email to now, where a scheduled one was shown at its planned time.
    """
    now = timezone.now()
    outbound = _change(
        outbound,
        WAITING,
        _("This email can't be sent now: it is %(status)s."),
        status=SendStatus.QUEUED,
        next_attempt_at=now,
        claimed_at=None,
    )
    timeline.move(outbound.message.activity_id, now)
    jobs.later(jobs.SEND_OUTBOUND, outbound.pk)
    return outbound


def outbound_send_again(outbound: Outbound) -> Outbound:
    """Queue an uncertain or failed email once more, with a fresh set of attempts.

    For an uncertain one the rep accepts that the recipient may get it twice. Privacy is
    checked again when it goes out. The timeline moves the email to now: it is a new send.
    """
    now = timezone.now()
    outbound = _change(
        outbound,
        (SendStatus.UNCERTAIN, SendStatus.FAILED),
        _("This email can't be sent again: it is %(status)s."),
        history=_("Sent again by the rep."),
        status=SendStatus.QUEUED,
        next_attempt_at=now,
        attempts=0,
        last_error="",
        claimed_at=None,
        attempted_at=None,
    )
    timeline.move(outbound.message.activity_id, now)
    jobs.later(_send_job(outbound), outbound.pk)
    return outbound


def _send_job(outbound: Outbound) -> str:
    """The job that sends it: the inboxes' worker's, or, for email that goes out through no
    inbox (transactional), its source's transport's (transports.py)."""
    if outbound.mailbox_id is None:
        return transports.for_source(outbound.source).job
    return jobs.SEND_OUTBOUND


def outbound_mark_sent(outbound: Outbound) -> Outbound:
    """Record that an uncertain email did go out (the rep checked with the recipient)."""
    sent_at = outbound.attempted_at or timezone.now()
    words = _("Marked as sent by the rep.")
    with transaction.atomic():
        outbound = _change(
            outbound,
            (SendStatus.UNCERTAIN,),
            _("Only an email whose sending is uncertain can be marked as sent; it is %(status)s."),
            history=words,
            status=SendStatus.SENT,
            sent_at=sent_at,
            last_error=words,
            claimed_at=None,
        )
        EmailMessage.objects.filter(pk=outbound.message_id, sent_at__isnull=True).update(
            sent_at=sent_at
        )
        announce(outbound, SendStatus.SENT, words)
    return outbound


ACTIONS = {
    "cancel": outbound_cancel,
    "send-now": outbound_send_now,
    "send-again": outbound_send_again,
    "mark-sent": outbound_mark_sent,
}


def may_change(user, outbound: Outbound) -> bool:
    """Only the person who wrote an email, or an admin, changes its sending."""
    return outbound.sender_id == user.pk or user.is_staff


def perform(user, outbound: Outbound, action: str) -> str:
    """Do one of ACTIONS for `user`; return "" or why the email's state refused it.

    Raises PermissionDenied for an unknown action or a user who may not change this email.
    """
    if action not in ACTIONS:
        raise PermissionDenied(_("No such action."))
    if not may_change(user, outbound):
        raise PermissionDenied(_("Only the person who wrote this email can change its sending."))
    if outbound.source == SendSource.TRANSACTIONAL:
        # Its own queue page acts on it (transactional/pool/queue.py), through its worker.
        return _("This email is sent by the transactional pool: change it from its Queue page.")
    try:
        ACTIONS[action](outbound)
    except ValidationError as exc:
        return " ".join(exc.messages)
    return ""
