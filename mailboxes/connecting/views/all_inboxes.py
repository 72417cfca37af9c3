"""Admin settings: every connected inbox, personal and team, with its health and its sending,
and each inbox's sending limits (within its provider's caps, connecting/caps.py).

Admins see the inboxes reps connected themselves (never their credentials), so an inbox that
needs reconnecting, or a departed rep's inbox, is found and dealt with without the rep.
"""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from mailboxes.connecting import caps
from mailboxes.connecting.forms import InboxLimitsForm
from mailboxes.connecting.services import mailbox_set_limits
from mailboxes.connecting.views.common import disconnect_inbox
from mailboxes.constants import MailboxStatus
from mailboxes.models import Mailbox, SendCounter
from mailboxes.models.outbound import sending_day
from records.views.admin_area import admin_required


@admin_required
def inbox_list(request):
    mailboxes = list(Mailbox.objects.select_related("owner", "team_inbox"))
    # Those needing attention first, then by address.
    mailboxes.sort(key=lambda m: (m.status == MailboxStatus.CONNECTED, m.email.lower()))
    used = SendCounter.objects.used_by([m.pk for m in mailboxes])
    rows = [(mailbox, used[mailbox.pk]) for mailbox in mailboxes]
    return render(
        request,
        "mailboxes/connecting/all_inboxes.html",
        {"rows": rows, "section": "connected-inboxes", "day": sending_day()},
    )


@admin_required
@require_POST
def inbox_disconnect(request, pk):
    mailbox = get_object_or_404(Mailbox, pk=pk)
    disconnect_inbox(request, mailbox)
    return redirect("mailboxes:all-inboxes")


@admin_required
@require_http_methods(["GET", "POST"])
def inbox_limits(request, pk):
    mailbox = get_object_or_404(Mailbox.objects.select_related("owner", "team_inbox"), pk=pk)
    form = InboxLimitsForm(request.POST or None, mailbox=mailbox)
    if request.method == "POST" and form.is_valid():
        mailbox_set_limits(
            mailbox,
            per_minute=form.cleaned_data["per_minute"],
            per_day=form.cleaned_data["per_day"],
        )
        messages.success(
            request,
            _("%(email)s now sends at most %(minute)s and %(day)s.")
            % {
                "email": mailbox.email,
                "minute": caps.describe_limit(caps.MINUTE, mailbox.send_per_minute),
                "day": caps.describe_limit(caps.DAY, mailbox.send_per_day),
            },
        )
        return redirect("mailboxes:all-inboxes")
    return render(
        request,
        "mailboxes/connecting/inbox_limits.html",
        {"mailbox": mailbox, "form": form, "plan": form.plan, "section": "connected-inboxes"},
    )
