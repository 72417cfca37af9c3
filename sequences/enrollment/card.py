"""An enrollment's card on the contact's timeline: the sequence, the status, the next step and
when it is due (in the enrollment's zone), the history. One query for a whole page of cards."""

from zoneinfo import ZoneInfo

from django.db.models import Prefetch
from django.utils import formats
from django.utils.translation import gettext as _

from ..constants import EnrollmentStatus
from ..models import Enrollment, EnrollmentEvent, Step


def when(enrollment: Enrollment, moment) -> str:
    """A moment as the enrollment reads it: "Tue 14 Jan 09:40", in its zone."""
    local = moment.astimezone(ZoneInfo(enrollment.time_zone))
    return formats.date_format(local, "D j M H:i")


def next_step_words(enrollment: Enrollment, steps: list[Step]) -> str:
    """What the enrollment does next, in words ("" once it ended)."""
    if enrollment.status not in EnrollmentStatus.live():
        return ""
    step = next((s for s in steps if s.position == enrollment.next_position), None)
    if step is None:
        return ""
    name = _("Step %(n)d: %(kind)s") % {"n": step.position + 1, "kind": step.get_kind_display()}
    if enrollment.status == EnrollmentStatus.PAUSED:
        if enrollment.paused_until:
            return _("%(step)s, paused until %(when)s") % {
                "step": name,
                "when": when(enrollment, enrollment.paused_until),
            }
        return _("%(step)s, paused") % {"step": name}
    if enrollment.due_at is None:
        return _("%(step)s, after the task is completed") % {"step": name}
    return _("%(step)s, %(when)s") % {"step": name, "when": when(enrollment, enrollment.due_at)}


def prefetch_enrollments(activities: list) -> None:
    """Hang each card's enrollment, with its sequence, steps and history, on its activity."""
    by_activity = {
        e.activity_id: e
        for e in Enrollment.objects.filter(activity__in=[a.pk for a in activities])
        .select_related("sequence")
        .prefetch_related(
            Prefetch("events", queryset=EnrollmentEvent.objects.order_by("at", "pk")),
            Prefetch("sequence__steps", queryset=Step.objects.order_by("position")),
        )
    }
    for activity in activities:
        enrollment = by_activity.get(activity.pk)
        activity.seq_enrollment = enrollment
        if enrollment is not None:
            enrollment.next_words = next_step_words(
                enrollment, list(enrollment.sequence.steps.all())
            )
