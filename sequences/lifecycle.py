"""Changing an enrollment's state, and the line of history each change writes: the one way
to end, pause, resume or note anything on an enrollment, whoever does it (a rep, the tick, a
reply that sync found, an automation rule).

Each function expects to run inside the caller's transaction with the enrollment row locked
(`locked(pk)`), so two writers never both act on the enrollment.
"""

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from .constants import EndReason, EnrollmentStatus, EventKind
from .models import Enrollment, EnrollmentEvent
from .stopping.outbox import cancel_queued, hold_queued


def locked(pk: int) -> Enrollment:
    """The enrollment, locked until the transaction ends (call inside `transaction.atomic`)."""
    return Enrollment.objects.select_for_update().get(pk=pk)


def record(enrollment: Enrollment, kind: str, detail: str = "", **where) -> EnrollmentEvent:
    """Write a line of the enrollment's history (`event`'s `position`, `actor`, `at`)."""
    line = event(enrollment, kind, detail, **where)
    line.save()
    return line


def event(
    enrollment: Enrollment,
    kind: str,
    detail: str = "",
    *,
    position: int | None = None,
    actor=None,
    at: datetime | None = None,
) -> EnrollmentEvent:
    """`record`'s line of history, unsaved: for a batch written with one bulk_create."""
    return EnrollmentEvent(
        enrollment=enrollment,
        kind=kind,
        detail=detail[:500],
        position=position,
        actor=actor,
        at=at or timezone.now(),
    )


@transaction.atomic
def end(enrollment: Enrollment, reason: str, detail: str = "", *, actor=None) -> bool:
    """End a live enrollment for `reason` (EndReason); False if it had ended already."""
    if enrollment.status not in EnrollmentStatus.live():
        return False
    finished = reason == EndReason.FINISHED
    enrollment.status = EnrollmentStatus.FINISHED if finished else EnrollmentStatus.ENDED
    enrollment.end_reason = reason
    enrollment.ended_at = timezone.now()
    enrollment.due_at = None
    enrollment.paused_until = None
    enrollment.save(update_fields=["status", "end_reason", "ended_at", "due_at", "paused_until"])
    kind = EventKind.FINISHED if finished else EventKind.ENDED
    record(enrollment, kind, detail or str(EndReason(reason).label), actor=actor)
    if not finished:
        # Its next step may be queued already: cancelled now (or refused when sent).
        cancel_queued(enrollment)
    return True


@transaction.atomic
def pause(
    enrollment: Enrollment, detail: str, *, until: datetime | None = None, actor=None
) -> bool:
    """Pause an active enrollment, for good (until resumed) or `until` a moment (the tick
    resumes it then; its email already queued is held back until then too). False if it was
    not active."""
    if enrollment.status != EnrollmentStatus.ACTIVE:
        return False
    enrollment.status = EnrollmentStatus.PAUSED
    enrollment.paused_until = until
    enrollment.save(update_fields=["status", "paused_until"])
    record(enrollment, EventKind.PAUSED, detail, actor=actor)
    if until is not None:
        hold_queued(enrollment, until)
    return True


@transaction.atomic
def resume(enrollment: Enrollment, due_at: datetime, detail: str = "", *, actor=None) -> bool:
    """Resume a paused enrollment with its next step due at `due_at`. False if not paused."""
    if enrollment.status != EnrollmentStatus.PAUSED:
        return False
    enrollment.status = EnrollmentStatus.ACTIVE
    enrollment.paused_until = None
    enrollment.due_at = due_at
    enrollment.save(update_fields=["status", "paused_until", "due_at"])
    record(enrollment, EventKind.RESUMED, detail, actor=actor)
    return True


@transaction.atomic
def reschedule(enrollment: Enrollment, due_at: datetime, detail: str = "", *, actor=None) -> bool:
    """Move an active enrollment's next step to `due_at`. False if it is not active."""
    if enrollment.status != EnrollmentStatus.ACTIVE:
        return False
    enrollment.due_at = due_at
    enrollment.save(update_fields=["due_at"])
    record(enrollment, EventKind.RESCHEDULED, detail, actor=actor)
    return True
