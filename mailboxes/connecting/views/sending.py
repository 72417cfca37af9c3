"""Settings > Email > Sending (admins): the limits new inboxes start with, within what each
provider allows, and the account's tracking domain with its DNS check."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from mailboxes.connecting.forms import NewInboxLimitsForm, TrackingDomainForm
from mailboxes.models import SendingSettings
from mailboxes.tracking.domain import (
    base_host,
    cname_record,
    host_allowed,
    tracking_base_url,
    tracking_domain_check,
    tracking_domain_set,
)
from records.views.admin_area import admin_required


@admin_required
@require_http_methods(["GET", "POST"])
def sending_settings(request):
    """Two forms, each saved on its own: the limits, and the tracking domain (Save, or Check
    DNS, which saves what was typed and then looks it up)."""
    account = SendingSettings.load()
    limits = NewInboxLimitsForm(account=account)
    tracking = TrackingDomainForm(initial={"tracking_domain": account.tracking_domain})
    page = reverse("mailboxes:sending-settings")
    if request.method == "POST" and request.POST.get("form") == "limits":
        limits = NewInboxLimitsForm(request.POST, account=account)
        if limits.is_valid():
            limits.save()
            messages.success(request, _("New inboxes will start with these limits."))
            return redirect(f"{page}#new-inbox-limits")
    elif request.method == "POST" and request.POST.get("form") == "tracking":
        tracking = TrackingDomainForm(request.POST)
        if tracking.is_valid():
            account = tracking_domain_set(tracking.cleaned_data["tracking_domain"])
            if request.POST.get("action") == "check" and account.tracking_domain:
                account = tracking_domain_check()
                _say_what_the_check_found(request, account)
            elif account.tracking_domain:
                messages.success(
                    request,
                    _("Tracking domain saved. Create its DNS record, then check DNS."),
                )
            else:
                messages.success(request, _("Links in new emails use the CRM's own address."))
            return redirect(f"{page}#tracking-domain")
    return render(
        request,
        "mailboxes/connecting/sending.html",
        {
            "section": "email-sending",
            "account": account,
            "limits": limits,
            "tracking": tracking,
            "base_host": base_host(),
            "cname": cname_record(account.tracking_domain) if account.tracking_domain else "",
            "host_allowed": bool(account.tracking_domain) and host_allowed(account.tracking_domain),
            "links_use": tracking_base_url(account),
        },
    )


def _say_what_the_check_found(request, account: SendingSettings) -> None:
    if not account.tracking_domain_verified:
        messages.error(request, _("The DNS check did not pass: %s") % account.tracking_found)
    elif host_allowed(account.tracking_domain):
        messages.success(
            request,
            _("%(domain)s leads to this CRM: links in new emails use it.")
            % {"domain": account.tracking_domain},
        )
    else:
        messages.warning(
            request,
            _(
                "%(domain)s leads to this CRM, but this server does not accept requests for it "
                "yet: links keep the CRM's own address until CRM_TRACKING_HOST names it."
            )
            % {"domain": account.tracking_domain},
        )
