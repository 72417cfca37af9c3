from .content import EmailTemplate, Signature, Snippet
from .inboxes import DomainServerSettings, FolderSync, Mailbox, SendAsAddress, TeamInbox
from .messages import BouncedAddress, EmailMessage, EmailThread, Tombstone
from .outbound import Outbound, OutboundAttachment, SendCounter
from .tracking import (
    TrackedLink,
    TrackingCursor,
    TrackingEvent,
    TrackingKind,
    TrackingReason,
    TrackingRollup,
)

__all__ = [
    "BouncedAddress",
    "DomainServerSettings",
    "EmailMessage",
    "EmailTemplate",
    "EmailThread",
    "FolderSync",
    "Mailbox",
    "Outbound",
    "OutboundAttachment",
    "SendAsAddress",
    "SendCounter",
    "Signature",
    "Snippet",
    "TeamInbox",
    "Tombstone",
    "TrackedLink",
    "TrackingCursor",
    "TrackingEvent",
    "TrackingKind",
    "TrackingReason",
    "TrackingRollup",
]
