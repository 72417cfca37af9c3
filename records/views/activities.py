"""Notes, tasks and meetings written from a record page."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from .. import timeline
from ..access import get_record_for_user, require_edit
from ..constants import ActivityKind, TaskStatus
from ..forms import MeetingForm, NoteForm, TaskForm
from ..models import Activity
from ..services import meeting_log, note_create, task_create
from .detail import detail_context


def _created(request, record_type, record, activity, form_name, fresh_form):
    """Answer a successful write: htmx gets a fresh form plus the new item, others a redirect."""
    if not request.htmx:
        return redirect("records:detail", type_slug=record_type.slug, pk=record.pk)
    timeline.prefetch([activity])
    return render(
        request,
        "records/detail.html#activity-created",
        {
            "record_type": record_type,
            "record": record,
            "activity": activity,
            form_name: fresh_form,
            "form_partial": form_name.replace("_", "-"),
        },
    )


def _invalid(request, record_type, record, form_name, form):
    if request.htmx:
        partial = form_name.replace("_", "-")
        return render(
            request,
            f"records/detail.html#{partial}",
            {"record_type": record_type, "record": record, form_name: form},
        )
    context = detail_context(request, record_type, record, **{form_name: form})
    return render(request, "records/detail.html", context)


@login_required
@require_POST
def note_add(request, type_slug, pk):
    record_type, record = get_record_for_user(request.user, type_slug, pk)
    require_edit(request.user)
    form = NoteForm(request.POST)
    if not form.is_valid():
        return _invalid(request, record_type, record, "note_form", form)
    activity = note_create(request.user, record, form.cleaned_data["body"])
    return _created(request, record_type, record, activity, "note_form", NoteForm())


@login_required
@require_POST
def task_add(request, type_slug, pk):
    record_type, record = get_record_for_user(request.user, type_slug, pk)
    require_edit(request.user)
    form = TaskForm(request.POST)
    if not form.is_valid():
        return _invalid(request, record_type, record, "task_form", form)
    data = form.cleaned_data
    activity = task_create(
        request.user,
        record,
        title=data["title"],
        task_type=data["task_type"],
        due_at=data["due_at"],
        assigned_to=data["assigned_to"],
        body=data["body"],
    )
    fresh = TaskForm(initial={"assigned_to": request.user.pk})
    return _created(request, record_type, record, activity, "task_form", fresh)


@login_required
@require_POST
def meeting_add(request, type_slug, pk):
    record_type, record = get_record_for_user(request.user, type_slug, pk)
    require_edit(request.user)
    form = MeetingForm(request.POST, user=request.user, record=record)
    if not form.is_valid():
        return _invalid(request, record_type, record, "meeting_form", form)
    data = form.cleaned_data
    activity = meeting_log(
        request.user,
        record,
        title=data["title"],
        starts_at=data["starts_at"],
        duration_minutes=data["duration_minutes"],
        outcome=data["outcome"],
        attendees=data.get("attendees", ()),
        body=data["body"],
    )
    fresh = MeetingForm(user=request.user, record=record)
    return _created(request, record_type, record, activity, "meeting_form", fresh)


@login_required
@require_POST
def task_toggle(request, type_slug, pk, activity_id):
    record_type, record = get_record_for_user(request.user, type_slug, pk)
    require_edit(request.user)
    task = Activity.objects.filter(
        pk=activity_id, kind=ActivityKind.TASK, links__record_id=record.pk
    ).first()
    if task is None:
        raise Http404("No such task on this record")
    task.reopen() if task.status == TaskStatus.COMPLETED else task.complete()
    if not request.htmx:
        return redirect("records:detail", type_slug=type_slug, pk=pk)
    timeline.prefetch([task])
    return render(
        request,
        "records/activities/task.html",
        {"activity": task, "record": record, "record_type": record_type},
    )


@login_required
@require_http_methods(["GET", "POST"])
def note_edit(request, type_slug, pk, activity_id):
    """Edit a note in place on the timeline; its author or an admin may."""
    record_type, record = get_record_for_user(request.user, type_slug, pk)
    require_edit(request.user)
    note = (
        Activity.objects.filter(pk=activity_id, kind=ActivityKind.NOTE, links__record_id=record.pk)
        .select_related("created_by")
        .first()
    )
    if note is None:
        raise Http404("No such note on this record")
    if note.created_by_id != request.user.pk and not request.user.is_staff:
        raise PermissionDenied(_("Only the note's author can change it."))
    form = NoteForm(
        request.POST or None, initial={"body": note.body}, auto_id=f"id_note{note.pk}_%s"
    )
    if request.method == "POST" and form.is_valid():
        note.body = form.cleaned_data["body"]
        note.save(update_fields=["body"])
        if not request.htmx:
            return redirect("records:detail", type_slug=type_slug, pk=pk)
        timeline.prefetch([note])
        return render(
            request,
            "records/activities/note.html",
            {"activity": note, "record": record, "record_type": record_type},
        )
    if not request.htmx and request.method == "GET":
        return redirect("records:detail", type_slug=type_slug, pk=pk)
    return render(
        request,
        "records/activities/note_edit.html",
        {"activity": note, "record": record, "record_type": record_type, "form": form},
    )
