"""Admin settings: the data-privacy switch, subscription types, and the audit trail."""

import csv
import json

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from records.views.admin_area import admin_required

from ..forms import (
    AuditFilterForm,
    PrivacySettingsForm,
    SubscriptionTypeForm,
    add_service_errors,
)
from ..models import PrivacySettings, SubscriptionType
from ..selectors import audit_events
from ..services import privacy_settings_update, subscription_type_delete, subscription_type_save

AUDIT_PAGE_SIZE = 50


@admin_required
@require_http_methods(["GET", "POST"])
def privacy_settings(request):
    current = PrivacySettings.load()
    settings_form = PrivacySettingsForm(instance=current)
    type_form = SubscriptionTypeForm(prefix="new")
    action = request.POST.get("action")
    if request.method == "POST" and action == "settings":
        settings_form = PrivacySettingsForm(request.POST, instance=PrivacySettings.load())
        if settings_form.is_valid():
            enabled = settings_form.cleaned_data["gdpr_enabled"]
            privacy_settings_update(actor=request.user, gdpr_enabled=enabled)
            messages.success(
                request,
                _("Data privacy (GDPR) rules are on.")
                if enabled
                else _("Data privacy (GDPR) rules are off."),
            )
            return redirect("privacy:settings")
    elif request.method == "POST" and action == "create-type":
        type_form = SubscriptionTypeForm(request.POST, prefix="new")
        if type_form.is_valid():
            try:
                created = subscription_type_save(type_form.save(commit=False), actor=request.user)
            except ValidationError as error:
                add_service_errors(type_form, error)
            else:
                messages.success(
                    request, _("Subscription type %(name)s created.") % {"name": created.name}
                )
                return redirect("privacy:settings")
    # The built-in types exist even after a database flush.
    SubscriptionType.builtin("one_to_one")
    SubscriptionType.builtin("transactional")
    return render(
        request,
        "privacy/settings/privacy.html",
        {
            "section": "privacy",
            "settings_form": settings_form,
            "type_form": type_form,
            "types": SubscriptionType.objects.all(),
        },
    )


@admin_required
@require_http_methods(["GET", "POST"])
def subscription_type_edit(request, pk):
    subscription_type = get_object_or_404(SubscriptionType, pk=pk)
    form = SubscriptionTypeForm(instance=subscription_type)
    error = ""
    if request.method == "POST" and request.POST.get("action") == "delete":
        try:
            subscription_type_delete(subscription_type, actor=request.user)
        except ValidationError as failure:
            error = " ".join(failure.messages)
        else:
            messages.success(
                request,
                _("Subscription type %(name)s deleted.") % {"name": subscription_type.name},
            )
            return redirect("privacy:settings")
    elif request.method == "POST":
        form = SubscriptionTypeForm(request.POST, instance=subscription_type)
        if form.is_valid():
            try:
                subscription_type_save(form.save(commit=False), actor=request.user)
            except ValidationError as failure:
                add_service_errors(form, failure)
            else:
                messages.success(
                    request, _("Subscription type %(name)s saved.") % {"name": form.instance.name}
                )
                return redirect("privacy:settings")
    return render(
        request,
        "privacy/settings/type_form.html",
        {
            "section": "privacy",
            "subscription_type": subscription_type,
            "form": form,
            "error": error,
        },
    )


@admin_required
@require_GET
def audit(request):
    form = AuditFilterForm(request.GET or None)
    events = audit_events(**form.filters()) if form.is_bound else audit_events()
    page = Paginator(events, AUDIT_PAGE_SIZE).get_page(request.GET.get("page"))
    template = "privacy/settings/audit.html"
    if request.htmx and not request.htmx.boosted:
        template += "#audit-results"
    return render(
        request,
        template,
        {"section": "privacy-audit", "form": form, "page": page, "events": page.object_list},
    )


class _Echo:
    def write(self, value):
        return value


AUDIT_CSV_HEADER = [
    "at",
    "kind",
    "contact_id",
    "contact",
    "contact_email",
    "actor",
    "sender_context",
    "message_ref",
    "reason",
    "summary",
    "details",
]


@admin_required
@require_GET
def audit_export(request):
    """Stream the filtered audit trail as CSV (same filters as the page, every row)."""
    form = AuditFilterForm(request.GET or None)
    events = audit_events(**form.filters()) if form.is_bound else audit_events()
    writer = csv.writer(_Echo())

    def rows():
        yield writer.writerow(AUDIT_CSV_HEADER)
        for e in events.iterator(chunk_size=1000):
            yield writer.writerow(
                [
                    e.at.isoformat(),
                    e.kind,
                    e.contact_id or "",
                    _csv_safe(e.contact.name if e.contact else ""),
                    _csv_safe(e.contact.email if e.contact else ""),
                    _csv_safe(e.actor.username if e.actor else ""),
                    e.sender_context,
                    _csv_safe(e.message_ref),
                    e.reason,
                    _csv_safe(e.summary),
                    _csv_safe(json.dumps(e.details, sort_keys=True, ensure_ascii=False)),
                ]
            )

    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="privacy-audit-{stamp}.csv"'
    return response


def _csv_safe(value: str) -> str:
    # Spreadsheets run cells starting with these as formulas (CSV injection); explanations
    # and names are free text typed by reps and contacts.
    if value and value[0] in "=+-@\t\r":
        return "'" + value
    return value
