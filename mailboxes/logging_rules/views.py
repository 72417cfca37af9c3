"""Settings > Email > Logging (admins): the account's email logging rules."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from mailboxes.logging_rules import rules as logging_rules
from mailboxes.logging_rules.forms import LoggingRulesForm
from records.views.admin_area import admin_required


@admin_required
@require_http_methods(["GET", "POST"])
def logging_rules_page(request):
    current = logging_rules.current()
    form = LoggingRulesForm(request.POST or None, instance=current)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(
            request,
            _("Logging rules saved. They apply to email synced from now on."),
        )
        return redirect("mailboxes:logging-rules")
    missing = logging_rules.missing_own_domains(current) if current.saved else []
    return render(
        request,
        "mailboxes/logging_rules/logging_rules.html",
        {"form": form, "missing_domains": missing, "section": "email-logging"},
    )


@admin_required
@require_POST
def add_own_domain(request):
    """Put one of the account's own domains the saved list lacks back on it."""
    current = logging_rules.current()
    domain = request.POST.get("domain", "")
    if current.saved and domain in logging_rules.missing_own_domains(current):
        current.never_log = [*current.never_log, domain]
        current.save(update_fields=["never_log", "updated_at"])
        messages.success(
            request,
            _("%(domain)s added: email among its addresses is not logged from now on.")
            % {"domain": domain},
        )
    return redirect("mailboxes:logging-rules")
