"""Admin settings for team inboxes: conversations inboxes and the help desk."""

from urllib.parse import urlencode

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from mailboxes.connecting.forms import TeamAddressForm, TeamInboxForm
from mailboxes.connecting.services import MailboxRuleError, check_address_free
from mailboxes.connecting.views.common import disconnect_inbox
from mailboxes.constants import Provider
from mailboxes.models import Mailbox, TeamInbox
from records.views.admin_area import admin_required


@admin_required
@require_http_methods(["GET", "POST"])
def team_inbox_list(request):
    form = TeamInboxForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        inbox = form.save()
        messages.success(
            request,
            _("Inbox “%(name)s” created. Connect its team address.") % {"name": inbox.name},
        )
        return redirect("mailboxes:team-inbox", pk=inbox.pk)
    inboxes = TeamInbox.objects.select_related("mailbox", "route_to_team", "route_to_user")
    return render(
        request,
        "mailboxes/connecting/team_inboxes.html",
        {"inboxes": inboxes, "form": form, "section": "inboxes"},
    )


@admin_required
@require_http_methods(["GET", "POST"])
def team_inbox_detail(request, pk):
    inbox = get_object_or_404(TeamInbox, pk=pk)
    mailbox = Mailbox.objects.filter(team_inbox=inbox).first()
    form = TeamInboxForm(instance=inbox)
    address_form = TeamAddressForm(initial={"provider": Provider.GMAIL})
    if request.method == "POST" and request.POST.get("action") == "connect":
        address_form = TeamAddressForm(request.POST)
        if address_form.is_valid():
            email = address_form.cleaned_data["email"]
            try:
                check_address_free(email, reconnecting=mailbox)
            except MailboxRuleError as exc:
                address_form.add_error("email", str(exc))
            else:
                start = {
                    Provider.GMAIL: "mailboxes:oauth-google",
                    Provider.OFFICE365: "mailboxes:oauth-microsoft",
                }
                url = reverse(start[address_form.cleaned_data["provider"]])
                query = urlencode({"team_inbox": inbox.pk, "email": email})
                return redirect(f"{url}?{query}")
    elif request.method == "POST":
        form = TeamInboxForm(request.POST, instance=inbox)
        if form.is_valid():
            inbox = form.save()
            if mailbox is not None:
                Mailbox.objects.filter(pk=mailbox.pk).update(display_name=inbox.display_name)
            messages.success(request, _("Saved."))
            return redirect("mailboxes:team-inbox", pk=inbox.pk)
    return render(
        request,
        "mailboxes/connecting/team_inbox.html",
        {
            "inbox": inbox,
            "mailbox": mailbox,
            "form": form,
            "address_form": address_form,
            "section": "inboxes",
        },
    )


@admin_required
@require_POST
def team_inbox_disconnect(request, pk):
    mailbox = get_object_or_404(Mailbox, team_inbox_id=pk)
    disconnect_inbox(request, mailbox)
    return redirect("mailboxes:team-inbox", pk=pk)
