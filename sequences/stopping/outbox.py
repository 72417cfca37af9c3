"""An enrollment's email that has not gone out yet: cancelled when the enrollment ends, and
refused by the send guard if a worker claimed it meanwhile (mailboxes/outbox/guards.py); held
back while the enrollment is paused until a moment (an out-of-office).

Imported by lifecycle.end, so nothing here imports lifecycle.
"""

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from mailboxes.constants import OutboundEventKind
from mailboxes.models import Outbound
from mailboxes.outbox.actions import outbound_cancel, outbound_hold
from mailboxes.outbox.outcomes import WAITING, record

from ..constants import EndReason, EnrollmentStatus
from ..models import Enrollment, StepRun


def _ended_words(reason: str) -> str:
    return _("Not sent: the sequence enrollment ended before it went out (%(reason)s).") % {
        "reason": EndReason(reason).label if reason else _("ended")
    }


def _waiting(enrollment: Enrollment):
    ran = StepRun.objects.filter(enrollment=enrollment, outbound__isnull=False)
    return Outbound.objects.filter(pk__in=ran.values("outbound_id"), status__in=WAITING)


def hold_queued(enrollment: Enrollment, until) -> int:
    """Hold the enrollment's emails still waiting in the outbox back until `until`, each with
    a line in its history; return how many. One already being sent is out of reach."""
    words = _("Held back: the contact is away; it goes out when the sequence resumes.")
    held = 0
    for outbound in _waiting(enrollment):
        try:
            outbound_hold(outbound, until, words)
        except ValidationError:
            continue  # a worker started sending it meanwhile
        held += 1
    return held


def cancel_queued(enrollment: Enrollment) -> int:
    """Cancel the enrollment's emails still waiting in the outbox (queued or scheduled), the
    way a rep's "Cancel" does, with a line in each email's history; return how many.

    One already being sent is left alone: it is out of reach, as it is for a rep."""
    words = _ended_words(enrollment.end_reason)
    cancelled = 0
    for outbound in _waiting(enrollment):
        try:
            outbound_cancel(outbound)
        except ValidationError:
            continue  # a worker started sending it meanwhile
        record(outbound, OutboundEventKind.CANCELLED, words)
        cancelled += 1
    return cancelled


def send_guard(outbound: Outbound) -> str | None:
    """Asked by the sending worker just before a sequence email goes out: refuse it when its
    enrollment ended (a reply, bounce or opt-out arrived after the step was queued)."""
    row = (
        Enrollment.objects.filter(pk=outbound.source_id).values_list("status", "end_reason").first()
    )
    if row is None:
        return _("Not sent: the sequence enrollment it belongs to no longer exists.")
    status, reason = row
    if status != EnrollmentStatus.ENDED:
        return None  # live, or finished with this, its last step
    return _ended_words(reason)
