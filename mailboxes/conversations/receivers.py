"""The conversations inbox hears mailboxes' signals: it is never called by sync or the outbox."""

from mailboxes import signals
from mailboxes.constants import SendSource
from mailboxes.conversations import filing


def on_messages_synced(sender, event: signals.MessagesSynced, **kwargs) -> None:
    filing.file_messages(event.message_ids)


def on_email_sent(sender, event: signals.SendOutcome, **kwargs) -> None:
    # Email from a team address written elsewhere (a record's composer): sync will not store
    # it again from the Sent folder, so it is filed when it goes out.
    if event.source == SendSource.ONE_TO_ONE:
        filing.file_messages([event.message_id])


def connect() -> None:
    signals.messages_synced.connect(on_messages_synced, dispatch_uid="conversations.synced")
    signals.email_sent.connect(on_email_sent, dispatch_uid="conversations.sent")
