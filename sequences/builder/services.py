"""Writing sequences: save one with its steps, clone, archive, restore. Each in one
transaction: a sequence and its steps are saved whole or not at all.

Steps are numbered by their place on the page (`position` 0, 1, …), which is how the engine
reads them. Live enrollments name steps by position (`next_position`, their step runs, their
per-step `overrides`), so the steps they have reached keep their place (rules.held_steps,
checked again here under the sequence's lock); the steps after them may be changed, removed and
reordered freely. An enrollment's `next_position` then names whichever step is now at that
place: a removed next step is followed by the one after it. Overrides move with the step they
were written for (steps keep their id), and those of removed steps go with them.
"""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from sequences.constants import StepKind
from sequences.models import Sequence, Step

from . import rules
from .forms import BaseStepFormSet, SequenceForm

# Steps are moved out of the way of the unique (sequence, position) while renumbered.
_PARKED = 1_000_000
_EMAIL_FIELDS = ("template", "subject", "body", "new_thread")
_TASK_FIELDS = (
    "task_title",
    "task_notes",
    "create_task_immediately",
    "continue_without_completing",
)


@transaction.atomic
def sequence_save(user, form: SequenceForm, steps: BaseStepFormSet) -> Sequence:
    """Save a valid sequence form and its valid steps formset. Raises ValidationError when
    enrollments reached a step the page moved meanwhile (nothing is saved then)."""
    sequence = form.instance
    creating = sequence.pk is None
    if not creating:
        Sequence.objects.select_for_update().get(pk=sequence.pk)
        held = rules.held_steps(sequence)
        if held > steps.held:  # an enrollment went on while the page was open
            steps.held = held
            steps.clean()
    else:
        sequence.owner = user
    sequence = form.save()
    existing = {s.pk: s for s in sequence.steps.all()}
    old_positions = {s.pk: s.position for s in existing.values()}
    kept = steps.kept()
    kept_ids = {f.cleaned_data.get("id") for f in kept}
    Step.objects.filter(sequence=sequence).exclude(pk__in=kept_ids).delete()
    Step.objects.filter(sequence=sequence).update(position=F("position") + _PARKED)
    new_positions = {}
    for position, step_form in enumerate(kept):
        data = step_form.cleaned_data
        step = existing.get(data.get("id")) or Step(sequence=sequence)
        _fill(step, data, position)
        step.save()
        new_positions[step.pk] = position
    if not creating:
        _move_overrides(sequence, old_positions, new_positions)
    return sequence


def _fill(step: Step, data: dict, position: int) -> None:
    """Copy a step's form into it; the fields of the other kind go back to their defaults."""
    step.position = position
    step.kind = data["kind"]
    step.delay_days = (data.get("delay_days") or 0) if position else 0
    own = _EMAIL_FIELDS if step.kind == StepKind.AUTO_EMAIL else _TASK_FIELDS
    for name in (*_EMAIL_FIELDS, *_TASK_FIELDS):
        default = Step._meta.get_field(name).get_default()
        setattr(step, name, data.get(name) if name in own else default)


def _move_overrides(sequence: Sequence, old: dict[int, int], new: dict[int, int]) -> None:
    """Per-enrollment edits follow their step to its new place."""
    step_at = {position: pk for pk, position in old.items()}
    for enrollment in rules.live(sequence).exclude(overrides={}).select_for_update():
        moved = {}
        for key, value in enrollment.overrides.items():
            pk = step_at.get(int(key)) if str(key).isdigit() else None
            if pk in new:
                moved[str(new[pk])] = value
        if moved != enrollment.overrides:
            enrollment.overrides = moved
            enrollment.save(update_fields=["overrides"])


@transaction.atomic
def sequence_clone(user, sequence: Sequence) -> Sequence:
    """A copy with its steps, named "Copy of …", owned by `user`, not archived."""
    steps = list(sequence.steps.all())
    copy = Sequence.objects.get(pk=sequence.pk)
    copy.pk = None
    copy.name = (_("Copy of %(name)s") % {"name": sequence.name})[:200]
    copy.owner = user
    copy.archived_at = None
    copy.save()
    for step in steps:
        step.pk = None
        step.sequence = copy
    Step.objects.bulk_create(steps)
    return copy


def sequence_archive(sequence: Sequence) -> None:
    """Archived: hidden from the list, refuses enrollments; live enrollments go on."""
    Sequence.objects.filter(pk=sequence.pk).update(archived_at=timezone.now())


def sequence_restore(sequence: Sequence) -> None:
    Sequence.objects.filter(pk=sequence.pk).update(archived_at=None)


def refuse(steps: BaseStepFormSet, error: ValidationError) -> None:
    """Show a refusal raised while saving above the steps."""
    steps._non_form_errors = steps.error_class(error.messages, renderer=steps.renderer)
