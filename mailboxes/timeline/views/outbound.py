"""Actions on an email waiting in (or stuck in) the outbound queue, from the timeline."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from mailboxes.composer.views.composer import message_on_record
from mailboxes.models import Tombstone
from mailboxes.outbox import actions
from mailboxes.outbox.outcomes import ACTIVE
from records import timeline
from records.access import get_record_for_user, require_edit


@login_required
@require_POST
def outbound_action(request, type_slug, pk, message_pk, action):
    """Cancel, send now, send again or mark as sent; only the sender or an admin may."""
    record_type, record = get_record_for_user(request.user, type_slug, pk)
    message = message_on_record(record, message_pk)
    outbound = getattr(message, "outbound", None)
    if outbound is None:
        raise PermissionDenied(_("This email was not sent from the CRM."))
    error = actions.perform(request.user, outbound, action)
    if not request.htmx:
        (messages.error if error else messages.success)(request, error or _("Done."))
        return redirect("records:detail", type_slug=type_slug, pk=pk)
    activity = message.activity
    timeline.prefetch([activity])
    return render(
        request,
        activity.template_name,
        {
            "activity": activity,
            "record": record,
            "record_type": record_type,
            "action_error": error,
        },
    )


@login_required
@require_POST
def email_delete(request, type_slug, pk, message_pk):
    """Delete a logged email from the CRM; sync remembers it (tombstone) and never re-imports it.

    A tracked email's click links stop redirecting (tracking/revocation.py, on the deletion of
    its tracking rollup).
    """
    record = get_record_for_user(request.user, type_slug, pk)[1]
    require_edit(request.user)
    message = message_on_record(record, message_pk)
    if getattr(message, "outbound", None) is not None and message.outbound.status in ACTIVE:
        # A worker may still send it (or is checking whether it went out).
        raise PermissionDenied(
            _("Cancel this email, or wait until it is sent, before deleting it.")
        )
    with transaction.atomic():
        if message.mailbox_id and message.message_id:
            Tombstone.objects.get_or_create(
                mailbox_id=message.mailbox_id,
                message_id=message.message_id,
                defaults={"deleted_by": request.user},
            )
        message.activity.delete()  # the message row goes with its activity
    if request.htmx:
        return HttpResponse("")
    messages.success(request, _("The email was deleted from the CRM."))
    return redirect("records:detail", type_slug=type_slug, pk=pk)
