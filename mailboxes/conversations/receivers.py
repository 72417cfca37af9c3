"""The conversations inbox hears mailboxes' signals: it is never called by sync or the outbox."""

from django.utils import timezone

from mailboxes import signals
from mailboxes.constants import MailboxKind, SendSource
from mailboxes.conversations import filing, tickets
from mailboxes.models import Conversation, Mailbox
from records import signals as record_signals


def on_messages_synced(sender, event: signals.MessagesSynced, **kwargs) -> None:
    # A page's messages are all of one inbox: only a team inbox's are filed, and asking its
    # kind first spares the filing query (a few ms a page) on a rep's own inbox.
    if Mailbox.objects.filter(pk=event.mailbox_id, kind=MailboxKind.TEAM).exists():
        filing.file_messages(event.message_ids)


def on_email_sent(sender, event: signals.SendOutcome, **kwargs) -> None:
    # Email from a team address written elsewhere (a record's composer): sync will not store
    # it again from the Sent folder, so it is filed when it goes out. A rep's own email
    # costs nothing here: the filing query took 2-3 ms of each send.
    if event.source == SendSource.ONE_TO_ONE and event.from_team_inbox:
        filing.file_messages([event.message_id])


def on_record_changed(sender, event: record_signals.RecordChanged, **kwargs) -> None:
    # A rep closed or reopened a help-desk ticket: its conversation follows.
    if tickets.is_ticket(event.kind) and "status" in event.changed:
        old, new = event.changed["status"]
        tickets.conversation_follows(event.record_id, old, new)
    if tickets.is_ticket(event.kind) and "priority" in event.changed:
        # The list shows the priority: teammates' polls must see it move.
        Conversation.objects.filter(ticket_id=event.record_id).update(updated_at=timezone.now())


def connect() -> None:
    signals.messages_synced.connect(on_messages_synced, dispatch_uid="conversations.synced")
    signals.email_sent.connect(on_email_sent, dispatch_uid="conversations.sent")
    record_signals.record_changed.connect(on_record_changed, dispatch_uid="conversations.ticket")
