"""What the engine does when a task an enrollment waits on is completed (records'
`task_completed`): the next step falls due, counted from the completion, or the enrollment
finishes when that task was its last step."""

from django.db import transaction
from django.utils.translation import gettext as _

from records import signals as record_signals
from records.signals import TaskCompleted

from .. import lifecycle
from ..constants import EnrollmentStatus, EventKind
from ..models import Enrollment
from . import advance


def task_completed(sender, event: TaskCompleted, **kwargs) -> None:
    waiting = Enrollment.objects.filter(
        waiting_task_id=event.activity_id, status__in=EnrollmentStatus.live()
    ).values_list("pk", flat=True)
    for pk in waiting:
        with transaction.atomic():
            enrollment = lifecycle.locked(pk)
            if enrollment.waiting_task_id != event.activity_id:
                continue
            enrollment.waiting_task = None
            lifecycle.record(
                enrollment,
                EventKind.TASK_COMPLETED,
                _("Task completed; the sequence goes on."),
                position=enrollment.next_position - 1,
            )
            steps = list(enrollment.sequence.steps.order_by("position"))
            advance.schedule_next(enrollment, steps, event.completed_at)
            enrollment.save(update_fields=["waiting_task", "due_at"])


def connect() -> None:
    record_signals.task_completed.connect(task_completed, dispatch_uid="sequences.engine")
