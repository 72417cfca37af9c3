"""The builder's pages: the list (Automations > Sequences), a sequence's page, create and
edit, clone, archive and restore. Everyone signed in may look; changing needs a seat that may
reach out, and editing, archiving and restoring the owner or an admin (rules.py)."""

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.forms.utils import ErrorDict
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from sequences.constants import StepKind
from sequences.models import Sequence

from . import editing, rules, services, stats
from .forms import SequenceForm, StepFormSet


@login_required
@require_GET
def sequence_list(request):
    archived = request.GET.get("archived") == "1"
    sequences = list(
        Sequence.objects.filter(archived_at__isnull=not archived)
        .select_related("owner")
        .annotate(step_count=Count("steps"))
    )
    by_sequence = stats.counts(s.pk for s in sequences)
    rows = [(s, by_sequence.get(s.pk, stats.Counts())) for s in sequences]
    context = {"rows": rows, "archived": archived, "may_create": rules.can_create(request.user)}
    return render(request, "sequences/builder/list.html", context)


def _sequence(pk) -> Sequence:
    return get_object_or_404(Sequence.objects.select_related("owner"), pk=pk)


@login_required
@require_GET
def sequence_detail(request, pk):
    sequence = _sequence(pk)
    context = {
        "sequence": sequence,
        "steps": sequence.steps.select_related("template"),
        "counts": stats.counts([sequence.pk]).get(sequence.pk, stats.Counts()),
        "may_change": rules.can_change(request.user, sequence),
        "may_create": rules.can_create(request.user),
        "enroll_refusal": rules.can_enroll_into(sequence),
        "live": rules.live(sequence).count(),
    }
    return render(request, "sequences/builder/detail.html", context)


@login_required
def sequence_new(request):
    if not rules.can_create(request.user):
        raise PermissionDenied
    return _edit(request, Sequence())


@login_required
def sequence_edit(request, pk):
    sequence = _sequence(pk)
    if not rules.can_change(request.user, sequence):
        raise PermissionDenied
    if sequence.archived:
        messages.error(request, _("An archived sequence can't be edited: restore it first."))
        return redirect("sequences:detail", pk=sequence.pk)
    return _edit(request, sequence)


def _edit(request, sequence: Sequence):
    """The builder form: edit buttons answer the page as typed, "Save" saves all or nothing."""
    existing = list(sequence.steps.all()) if sequence.pk else []
    held = rules.held_steps(sequence) if sequence.pk else 0
    kept_templates = {s.template_id for s in existing if s.template_id}
    form_kwargs = {"user": request.user, "kept_templates": kept_templates}
    kwargs = {"held": held, "existing": existing, "form_kwargs": form_kwargs}
    data = request.POST if request.method == "POST" else None
    edited = editing.apply(request.user, data) if data is not None else None
    if edited is not None:
        data = edited
    form = SequenceForm(data, instance=sequence)
    if data is None:
        steps = StepFormSet(initial=[_initial(s) for s in existing], **kwargs)
    else:
        steps = StepFormSet(data, **kwargs)
    if edited is None and data is not None and form.is_valid() & steps.is_valid():
        try:
            saved = services.sequence_save(request.user, form, steps)
        except ValidationError as error:
            services.refuse(steps, error)
        else:
            messages.success(request, _("Sequence saved."))
            return redirect("sequences:detail", pk=saved.pk)
    elif edited is not None:
        _quiet(form, steps)
    _template_applies_on_change(steps, request.path)
    context = {
        "form": form,
        "steps": steps,
        "step_rows": _numbered(steps),
        "sequence": sequence,
        "held": held,
        "live": rules.live(sequence).count() if sequence.pk else 0,
        "kinds": StepKind.choices,
        "refused": data is not None and edited is None,  # "Save" pressed, and refused
    }
    return render(request, "sequences/builder/edit.html", context)


def _numbered(steps) -> list:
    """Each form with its step number, None for a removed step (kept hidden until saved)."""
    rows, number = [], 0
    for form in steps.forms:
        removed = bool(form["DELETE"].value())
        number += not removed
        rows.append((form, None if removed else number))
    return rows


def _initial(step) -> dict:
    fields = ("kind", "delay_days", "template", "subject", "body", "new_thread", "task_title")
    initial = {name: getattr(step, name) for name in fields}
    initial.update(
        id=step.pk,
        template=step.template_id,
        task_notes=step.task_notes,
        create_task_immediately=step.create_task_immediately,
        continue_without_completing=step.continue_without_completing,
    )
    return initial


def _template_applies_on_change(steps, path: str) -> None:
    """With script, choosing a template copies it into the step at once (as "Use template")."""
    for index, step_form in enumerate(steps.forms):
        step_form.fields["template"].widget.attrs.update(
            {
                "hx-post": path,
                "hx-trigger": "change",
                "hx-vals": json.dumps({editing.ACTION: f"template:{index}"}),
            }
        )


def _quiet(form, steps) -> None:
    """An edit button is not a save: the page comes back as typed, without refusals."""
    form._errors = ErrorDict()
    for step_form in steps.forms:
        step_form._errors = ErrorDict()
    steps._non_form_errors = steps.error_class()
    steps._errors = [ErrorDict() for _form in steps.forms]


@login_required
@require_POST
def sequence_clone(request, pk):
    if not rules.can_create(request.user):
        raise PermissionDenied
    copy = services.sequence_clone(request.user, _sequence(pk))
    messages.success(request, _("Cloned: this is the copy."))
    return redirect("sequences:detail", pk=copy.pk)


@login_required
@require_POST
def sequence_archive(request, pk, archive=True):
    """Archive (hidden from the list, refuses enrollments; live ones go on) or restore."""
    sequence = _sequence(pk)
    if not rules.can_change(request.user, sequence):
        raise PermissionDenied
    if archive:
        services.sequence_archive(sequence)
        messages.success(
            request, _("Archived: nobody new can be enrolled; enrolled contacts go on.")
        )
    else:
        services.sequence_restore(sequence)
        messages.success(request, _("Restored."))
    return redirect("sequences:detail", pk=sequence.pk)
