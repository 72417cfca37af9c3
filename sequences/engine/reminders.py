"""Task reminders (a sequence's follow-up setting): the task's owner gets an email when a
sequence task falls due. The engine makes its tasks due at once (steps.run_task), so the
reminder goes with the task; it is queued on commit, so a rolled-back step reminds nobody."""

from django.urls import reverse
from django.utils.translation import gettext as _

from records.models import Activity
from records.notifications import notify

from ..models import Enrollment


def remind(enrollment: Enrollment, task: Activity) -> None:
    contact, sequence = enrollment.contact, enrollment.sequence
    names = {"title": task.title, "contact": str(contact), "sequence": sequence.name}
    notify(
        task.assigned_to,
        _("Task due: %(title)s") % names,
        _("Your task “%(title)s” for %(contact)s, from the sequence “%(sequence)s”, is due now.")
        % names,
        reverse("records:detail", args=["contacts", contact.pk]),
    )
