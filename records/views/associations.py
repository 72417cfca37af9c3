"""The associations panel on a record page: list, search candidates, add, remove."""

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from ..access import get_record_for_user, require_edit, visible_to
from ..forms import AssociationForm
from ..models import Record
from ..selectors import associations_for, records_search
from ..services import association_create, association_delete
from ..types import get_record_type, record_types_for


def _panel(request, record_type, record, **extra):
    context = {
        "record_type": record_type,
        "record": record,
        "association_groups": associations_for(request.user, record),
        "can_edit": request.user.can_edit_records,
        "association_types": record_types_for(request),
        **extra,
    }
    if request.htmx:
        return render(request, "records/detail.html#associations", context)
    return redirect("records:detail", type_slug=record_type.slug, pk=record.pk)


@login_required
@require_GET
def association_candidates(request, type_slug, pk):
    """Records of the chosen type matching the search, that the user may see."""
    record_type, record = get_record_for_user(request.user, type_slug, pk)
    target_type = get_record_type(request.GET.get("target_type", "contacts"))
    query = request.GET.get("q", "").strip()[:200]
    qs = visible_to(request.user, target_type.queryset()).exclude(pk=record.pk)
    if query:
        qs = records_search(qs, query)
    return render(
        request,
        "records/detail.html#association-candidates",
        {
            "record_type": record_type,
            "record": record,
            "candidates": qs.order_by("name")[:10],
            "target_type": target_type,
            "query": query,
        },
    )


@login_required
@require_POST
def association_add(request, type_slug, pk):
    record_type, record = get_record_for_user(request.user, type_slug, pk)
    require_edit(request.user)
    form = AssociationForm(request.POST)
    if not form.is_valid():
        return _panel(request, record_type, record, association_error=_("Choose a record to add."))
    other = (
        visible_to(request.user, Record.objects.all())
        .filter(pk=form.cleaned_data["record_id"])
        .first()
    )
    if other is None or other.pk == record.pk:
        raise Http404("No such record")
    association_create(record, other)
    return _panel(request, record_type, record)


@login_required
@require_POST
def association_remove(request, type_slug, pk, other_pk):
    record_type, record = get_record_for_user(request.user, type_slug, pk)
    require_edit(request.user)
    other = visible_to(request.user, Record.objects.all()).filter(pk=other_pk).first()
    if other is None:
        raise Http404("No such record")
    association_delete(record, other)
    return _panel(request, record_type, record)
