"""Reports hear what changes an email's counts and owe it a refresh (`rollups.mark`); the
refresh job rolls it up within a minute. Opens and clicks are marked by the tracking writer
itself, in the transaction that stores them (thousands a second: no signal per hit)."""

from django.db.models import F
from django.db.models.signals import post_delete

from mailboxes import signals
from mailboxes.constants import Direction
from mailboxes.models import EmailMessage, TrackingRollup
from mailboxes.reports import facts, rollups
from privacy import signals as privacy_signals
from records.bulk import AnyOf


def on_message(sender, event, **kwargs) -> None:
    # Sent, failed, uncertain, bounced, complained about: that email.
    rollups.mark([event.message_id])


def on_replies(sender, event: signals.RepliesReceived, **kwargs) -> None:
    # A page's replies in one statement: one each (their own commit, after the page's) was a
    # sixth of an initial sync's time.
    rollups.mark([pk for reply in event.replies for pk in reply.replied_to])


def on_synced(sender, event: signals.MessagesSynced, **kwargs) -> None:
    # Mail the rep sent from their own client, logged by sync: counts as sent, untracked.
    rollups.mark(
        EmailMessage.objects.filter(
            AnyOf(F("pk"), event.message_ids), direction=Direction.OUTGOING
        ).values_list("pk", flat=True)
    )


def on_tracked_email_deleted(sender, instance, **kwargs) -> None:
    # A tracked email deleted from the CRM (its rollup goes with it): its counts leave the
    # reports at the next refresh. Tracking already hears this deletion, so it costs no extra
    # fetch in the cascade.
    rollups.mark([instance.message_id])


def on_withdrawn(sender, event: privacy_signals.PermissionWithdrawn, **kwargs) -> None:
    # An opt-out (of all email or of one type) counts against the last email the contact got
    # before it.
    rollups.mark(facts.last_emails_before(facts.opt_out_times([event.contact_id])))


def connect() -> None:
    for name in (
        "email_sent",
        "email_failed",
        "email_uncertain",
        "bounce_recorded",
        "complaint_received",
    ):
        getattr(signals, name).connect(on_message, dispatch_uid=f"reports.{name}")
    signals.replies_received.connect(on_replies, dispatch_uid="reports.reply")
    signals.messages_synced.connect(on_synced, dispatch_uid="reports.synced")
    privacy_signals.permission_withdrawn.connect(on_withdrawn, dispatch_uid="reports.withdrawn")
    post_delete.connect(
        on_tracked_email_deleted, sender=TrackingRollup, dispatch_uid="reports.tracked-deleted"
    )
