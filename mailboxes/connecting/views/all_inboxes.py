"""Admin settings: every connected inbox, personal and team, with its health and its sending.

Admins see the inboxes reps connected themselves (never their credentials), so an inbox that
needs reconnecting, or a departed rep's inbox, is found and dealt with without the rep.
"""

from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

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
