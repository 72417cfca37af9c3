"""The record page: properties and actions on the left, the timeline on the right."""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.functional import SimpleLazyObject
from django.utils.translation import gettext
from django.views.decorators.http import require_GET, require_http_methods

from .. import extensions
from ..access import get_record_for_user, require_edit
from ..forms import MeetingForm, NoteForm, TaskForm
from ..models import ContactEmail
from ..money import Money
from ..selectors import associations_for, timeline_for_record
from ..types import Column, get_record_type, record_types_for
from .forms_for import form_for, save_record_form
from .lists import cell_display


def property_rows(record_type, record) -> list[tuple[str, object]]:
    """Label and display value of each property shown in the left panel."""
    form = form_for(record_type, instance=record)
    columns = {c.key: c for c in record_type.columns}
    money = SimpleLazyObject(Money.for_account)  # read only for an amount
    rows = []
    for name, field in form.fields.items():
        if name in ("primary_email", "other_emails"):
            continue
        key = f"prop:{name[5:]}" if name.startswith("prop_") else name
        column = columns.get(key, Column(key, ""))
        rows.append(
            (
                field.label or name.replace("_", " ").capitalize(),
                cell_display(record, column, money),
            )
        )
    if record_type.kind == "contact":
        addresses = ContactEmail.objects.filter(contact_id=record.pk)
        rows.insert(1, (gettext("Email addresses"), [e for e in addresses]))
    return rows


def detail_context(request, record_type, record, **extra) -> dict:
    page = timeline_for_record(record, limit=settings.TIMELINE_PAGE_SIZE)
    context = {
        "record_type": record_type,
        "record": record,
        "properties": property_rows(record_type, record),
        "association_groups": associations_for(request.user, record),
        "timeline": page,
        "note_form": NoteForm(),
        "task_form": TaskForm(initial={"assigned_to": request.user.pk}),
        "meeting_form": MeetingForm(user=request.user, record=record),
        "can_edit": request.user.can_edit_records,
        "association_types": record_types_for(request),
        "panels": extensions.panels_for(request, record),
        "actions": extensions.actions_for(request.user, record),
    }
    context.update(extra)
    return context


@login_required
@require_GET
def record_detail(request, type_slug, pk):
    record_type, record = get_record_for_user(request.user, type_slug, pk)
    return render(request, "records/detail.html", detail_context(request, record_type, record))


@login_required
@require_GET
def record_timeline(request, type_slug, pk):
    """The next page of the timeline, loaded by htmx when the user scrolls to its end."""
    _, record = get_record_for_user(request.user, type_slug, pk)
    page = timeline_for_record(
        record, cursor=request.GET.get("cursor", ""), limit=settings.TIMELINE_PAGE_SIZE
    )
    return render(
        request,
        "records/detail.html#timeline-page",
        {"record": record, "timeline": page, "record_type": get_record_type(type_slug)},
    )


@login_required
@require_http_methods(["GET", "POST"])
def record_edit(request, type_slug, pk):
    record_type, record = get_record_for_user(request.user, type_slug, pk)
    require_edit(request.user)
    if request.method == "POST":
        form = form_for(record_type, request.POST, instance=record, user=request.user)
        saved = save_record_form(record_type, form) if form.is_valid() else None
        if saved is not None:
            if request.htmx:
                return render(
                    request,
                    "records/detail.html#properties",
                    {
                        "record_type": record_type,
                        "record": saved,
                        "properties": property_rows(record_type, saved),
                        "can_edit": True,
                        "saved": True,
                    },
                )
            return redirect("records:detail", type_slug=type_slug, pk=saved.pk)
    else:
        form = form_for(record_type, instance=record, user=request.user)
    template = "records/edit.html#edit-form" if request.htmx else "records/edit.html"
    return render(request, template, {"record_type": record_type, "record": record, "form": form})


@login_required
@require_http_methods(["GET", "POST"])
def record_create(request, type_slug):
    record_type = get_record_type(type_slug)
    require_edit(request.user)
    if request.method == "POST":
        form = form_for(record_type, request.POST, user=request.user)
        record = save_record_form(record_type, form) if form.is_valid() else None
        if record is not None:
            return redirect("records:detail", type_slug=type_slug, pk=record.pk)
    else:
        form = form_for(record_type, initial={"owner": request.user.pk}, user=request.user)
    return render(request, "records/edit.html", {"record_type": record_type, "form": form})
