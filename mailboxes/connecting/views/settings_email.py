"""Settings > Email: the user's connected inboxes, their sync health, default From."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Prefetch
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from mailboxes.connecting.services import mailbox_set_default_from
from mailboxes.connecting.views.common import disconnect_inbox, own_mailbox
from mailboxes.models import FolderSync, Mailbox, SendAsAddress


@login_required
@require_GET
def email_settings(request):
    # The sync lease says when an inbox's sync waits for another worker, and why.
    mailboxes = (
        Mailbox.objects.filter(owner=request.user)
        .select_related("sync_lease")
        .prefetch_related(
            Prefetch("folders", queryset=FolderSync.objects.order_by("role", "folder")),
            Prefetch("aliases", queryset=SendAsAddress.objects.all()),
        )
    )
    return render(request, "mailboxes/connecting/email_settings.html", {"mailboxes": mailboxes})


@login_required
@require_POST
def set_default_from(request, pk):
    mailbox = own_mailbox(request, pk)
    mailbox_set_default_from(request.user, mailbox)
    messages.success(request, f"Email you write will come from {mailbox.email} by default.")
    return redirect("mailboxes:settings")


@login_required
@require_POST
def disconnect(request, pk):
    mailbox = own_mailbox(request, pk)
    disconnect_inbox(request, mailbox)
    return redirect("mailboxes:settings")
