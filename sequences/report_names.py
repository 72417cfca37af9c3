"""The email reports' names for a sequence's emails (mailboxes/reports/names.py): a step,
"<sequence>, step N", and its sequence, so reports group by either."""

from django.utils.translation import gettext as _

from mailboxes.constants import SendSource
from mailboxes.reports import names

from .models import Step


def _steps(ids):
    return Step.objects.filter(pk__in=ids).values_list(
        "pk", "position", "sequence_id", "sequence__name"
    )


def step_names(ids) -> dict[int, str]:
    return {
        pk: _("%(sequence)s, step %(n)s") % {"sequence": name, "n": position + 1}
        for pk, position, _seq, name in _steps(ids)
    }


def step_sequences(ids) -> dict[int, tuple[int, str]]:
    return {pk: (sequence_id, name) for pk, _pos, sequence_id, name in _steps(ids)}


def register() -> None:
    names.register_source(names.SourceNames(SendSource.SEQUENCE, step_names, step_sequences))
