from mailboxes.models.content import EmailTemplate, Signature, Snippet
from mailboxes.models.conversations import (
    Conversation,
    ConversationComment,
    ConversationMessage,
    ConversationPresence,
    ConversationRead,
)
from mailboxes.models.inboxes import (
    DomainServerSettings,
    FolderSync,
    Mailbox,
    SendAsAddress,
    SyncLease,
    TeamInbox,
)
from mailboxes.models.logging_rules import LoggingRules
from mailboxes.models.messages import BouncedAddress, EmailMessage, EmailThread, Tombstone
from mailboxes.models.outbound import (
    DraftAttachment,
    Outbound,
    OutboundAttachment,
    OutboundEvent,
    SendCounter,
)
from mailboxes.models.preferences import EmailPreferences
from mailboxes.models.reading import TrustedImageSender
from mailboxes.models.reports import ReportDaily, ReportDirty, ReportEmail
from mailboxes.models.sending import SendingSettings
from mailboxes.models.tracking import (
    DeletedTrackedEmail,
    TrackedLink,
    TrackingCursor,
    TrackingEvent,
    TrackingKind,
    TrackingReason,
    TrackingRollup,
)

__all__ = [
    "BouncedAddress",
    "Conversation",
    "ConversationComment",
    "ConversationMessage",
    "ConversationPresence",
    "ConversationRead",
    "DeletedTrackedEmail",
    "DraftAttachment",
    "DomainServerSettings",
    "EmailMessage",
    "EmailPreferences",
    "EmailTemplate",
    "EmailThread",
    "FolderSync",
    "LoggingRules",
    "Mailbox",
    "Outbound",
    "OutboundAttachment",
    "OutboundEvent",
    "ReportDaily",
    "ReportDirty",
    "ReportEmail",
    "SendAsAddress",
    "SendCounter",
    "SendingSettings",
    "Signature",
    "Snippet",
    "SyncLease",
    "TeamInbox",
    "Tombstone",
    "TrackedLink",
    "TrackingCursor",
    "TrackingEvent",
    "TrackingKind",
    "TrackingReason",
    "TrackingRollup",
    "TrustedImageSender",
]
