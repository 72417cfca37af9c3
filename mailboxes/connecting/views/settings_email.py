"""Settings > Email > Connected inboxes: the user's inboxes, their sync health, what they sent
today against their limits, default From."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Prefetch
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from mailboxes.connecting.views.common import disconnect_inbox, own_mailbox
from mailboxes.models import FolderSync, Mailbox, SendAsAddress, SendCounter
from mailboxes.models.outbound import sending_day
from mailboxes.preferences.defaults import default_from, own_addresses
from mailboxes.preferences.services import email_preferences_save


@login_required
@require_GET
def email_settings(request):
    """Settings > Email > Connected inboxes."""
    # The sync lease says when an inbox's sync waits for another worker, and why.
    mailboxes = list(
        Mailbox.objects.filter(owner=request.user)
        .select_related("sync_lease")
        .prefetch_related(
            Prefetch("folders", queryset=FolderSync.objects.order_by("role", "folder")),
            Prefetch("aliases", queryset=SendAsAddress.objects.all()),
        )
    )
    # What each sent in the throttle's current windows, and which day that is.
    used = SendCounter.objects.used_by([box.pk for box in mailboxes])
    # The badge goes on the inbox of the user's default From (their email preferences).
    chosen = default_from(request.user, own_addresses(request.user))
    for box in mailboxes:
        box.used = used[box.pk]
        box.is_default_from = chosen is not None and chosen.mailbox.pk == box.pk
    context = {"mailboxes": mailboxes, "day": sending_day(), "section": "email-inboxes"}
    return render(request, "mailboxes/connecting/email_settings.html", context)


@login_required
@require_POST
def set_default_from(request, pk):
    mailbox = own_mailbox(request, pk)
    email_preferences_save(request.user, from_mailbox=mailbox, from_address=mailbox.email)
    messages.success(
        request,
        _("Email you write will come from %(email)s by default.") % {"email": mailbox.email},
    )
    return redirect("mailboxes:settings")


@login_required
@require_POST
def disconnect(request, pk):
    mailbox = own_mailbox(request, pk)
    disconnect_inbox(request, mailbox)
    return redirect("mailboxes:settings")
