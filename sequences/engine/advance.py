"""Moving an enrollment on to its next step: when that step falls due, or the end.

Shared by the tick (after a step ran) and by task completion (an enrollment that waited on a
task goes on from when it was completed). Call inside the caller's transaction, the
enrollment locked (lifecycle.locked).
"""

from datetime import datetime

from records.calendar.clock import Calendar

from .. import lifecycle
from ..constants import EndReason, StepKind
from ..models import Enrollment, Step
from ..schedule import calendar_for, due_after


def delay_days(enrollment: Enrollment, step: Step) -> int:
    """The step's delay for this enrollment (its override, else the step's)."""
    override = enrollment.overrides.get(str(step.position), {}).get("delay_days")
    return step.delay_days if override in (None, "") else int(override)


def schedule_next(
    enrollment: Enrollment, steps: list[Step], ran_at: datetime, account: Calendar | None = None
) -> datetime | None:
    """Make the step at `next_position` due after `ran_at` (the caller saves `due_at`);
    after the last step, finish the enrollment (saved). Return the new due time, None when
    finished."""
    position = enrollment.next_position
    if position >= len(steps):
        lifecycle.end(enrollment, EndReason.FINISHED)
        return None
    step = steps[position]
    cal = calendar_for(enrollment.sequence, enrollment.time_zone, account)
    immediately = step.kind in StepKind.tasks() and step.create_task_immediately
    enrollment.due_at = due_after(
        cal, enrollment.sequence, ran_at, delay_days(enrollment, step), immediately
    )
    return enrollment.due_at
