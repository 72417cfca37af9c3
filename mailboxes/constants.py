"""Choices for connected inboxes and the email they sync."""

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop


class Provider(models.TextChoices):
    GMAIL = "gmail", "Gmail / Google Workspace"
    OFFICE365 = "office365", "Office 365"
    EXCHANGE = "exchange", _("Exchange (on-premises)")
    IMAP = "imap", _("Other (IMAP/SMTP)")
    DEMO = "demo", _("Demo inbox (local mail catcher)")


# The timeline kind of an email, registered with records.timeline in apps.py.
EMAIL_ACTIVITY = "email"
# The timeline title of an email forwarded from the CRM, once it went out. Stored on the
# activity as written (a plain string, so the bulk write takes it): marked for the catalogue,
# translated where it is shown.
FORWARDED_TITLE = gettext_noop("Email forwarded")


class SendSource(models.TextChoices):
    """What queued an email: reports and the ledger group mail by it."""

    ONE_TO_ONE = "one_to_one", _("One-to-one")
    SEQUENCE = "sequence", _("Sequence")
    TRANSACTIONAL = "transactional", _("Transactional")


# Team inboxes are read by many people through the provider's API; IMAP is not offered there.
TEAM_PROVIDERS = (Provider.GMAIL, Provider.OFFICE365)


class Sharing(models.TextChoices):
    """Who may use a template or snippet besides its owner (admins may also edit shared ones)."""

    PRIVATE = "private", _("Only me")
    TEAM = "team", _("My team")
    EVERYONE = "everyone", _("Everyone")


class FontFamily(models.TextChoices):
    """The fonts offered for email: those every mail client has, or a close fallback."""

    DEFAULT = "", _("The recipient's default")
    ARIAL = "arial", _("Arial")
    HELVETICA = "helvetica", _("Helvetica")
    VERDANA = "verdana", _("Verdana")
    TAHOMA = "tahoma", _("Tahoma")
    TREBUCHET = "trebuchet", _("Trebuchet MS")
    GEORGIA = "georgia", _("Georgia")
    TIMES = "times", _("Times New Roman")
    COURIER = "courier", _("Courier New")


# Each font as CSS writes it in the email, with the fallbacks a client lacking it uses.
FONT_STACKS = {
    FontFamily.ARIAL: "Arial, Helvetica, sans-serif",
    FontFamily.HELVETICA: "Helvetica, Arial, sans-serif",
    FontFamily.VERDANA: "Verdana, Geneva, sans-serif",
    FontFamily.TAHOMA: "Tahoma, Verdana, sans-serif",
    FontFamily.TREBUCHET: "'Trebuchet MS', Helvetica, sans-serif",
    FontFamily.GEORGIA: "Georgia, serif",
    FontFamily.TIMES: "'Times New Roman', Times, serif",
    FontFamily.COURIER: "'Courier New', Courier, monospace",
}
# The sizes offered for email text, in CSS pixels.
FONT_SIZES = (10, 11, 12, 13, 14, 16, 18)


class MailboxKind(models.TextChoices):
    PERSONAL = "personal", _("Personal")
    TEAM = "team", _("Team")


class MailboxStatus(models.TextChoices):
    CONNECTED = "connected", _("Connected")
    SYNCING = "syncing", _("Syncing")
    NEEDS_RECONNECT = "needs_reconnect", _("Needs reconnect")
    ERROR = "error", _("Error")


class TeamInboxKind(models.TextChoices):
    CONVERSATIONS = "conversations", _("Conversations inbox")
    HELP_DESK = "help_desk", _("Help desk")


class ConversationStatus(models.TextChoices):
    OPEN = "open", _("Open")
    CLOSED = "closed", _("Closed")


class Direction(models.TextChoices):
    INCOMING = "in", _("Received")
    OUTGOING = "out", _("Sent")


class MatchReason(models.TextChoices):
    ADDRESS = "address", _("A participant's address matches the contact")
    THREAD = "thread", _("It replies to an email already logged here")
    FALLBACK = "fallback", _("Low-confidence match (subject and participants)")


class LoggedVia(models.TextChoices):
    """How an email came to be logged, when not by sending it from the CRM or syncing an inbox
    (the blank default): email reports leave these out, as they are not the rep's outreach."""

    SYNC = "", _("Sent from the CRM or synced")
    FORWARD = "forward", _("Forwarded to the CRM's logging address")
    MANUAL = "manual", _("Logged by hand")


class BounceKind(models.TextChoices):
    HARD = "hard", _("Hard bounce")
    SOFT = "soft", _("Soft bounce")


class SendStatus(models.TextChoices):
    SCHEDULED = "scheduled", _("Scheduled")
    QUEUED = "queued", _("Queued")
    # Transactional email only: the relay answered 4xx for it or its recipients' domain, so
    # it waits, with the reason and the next try (transactional/pool/delivery.py).
    DEFERRED = "deferred", _("Deferred")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    # The connection dropped before the provider answered: it may have gone out. The worker
    # asks the provider (the Sent folder by Message-ID) before anything is sent again.
    CHECKING = "checking", _("Uncertain, checking")
    # A send whose outcome is unknown and that the provider cannot settle: the rep decides.
    UNCERTAIN = "uncertain", _("Uncertain")
    RECONCILED = "reconciled", _("Sent (confirmed from the Sent folder)")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")


class SentCopy(models.TextChoices):
    """Where the copy for the Sent folder of a sent email stands (for servers that do not file
    what they relay themselves: plain SMTP)."""

    NONE = "", _("Not needed")
    OWED = "owed", _("Owed")
    FILING = "filing", _("Being filed")
    FILED = "filed", _("Filed")


class OutboundEventKind(models.TextChoices):
    """What an email's history records: the moments off the plain queued-then-sent path."""

    UNCERTAIN = "uncertain", _("May or may not have gone out")
    CHECKED = "checked", _("Checked with the provider")
    RETRY = "retry", _("Will try again")
    FAILED = "failed", _("Failed")
    REP = "rep", _("Changed by a person")
    # Cancelled by what queued it (a send guard, or a sequence that ended).
    CANCELLED = "cancelled", _("Cancelled")


class Security(models.TextChoices):
    SSL = "ssl", "SSL/TLS"
    STARTTLS = "starttls", "STARTTLS"
    NONE = "none", _("None (not encrypted)")


class LogMode(models.TextChoices):
    """Which synced mail with known contacts is logged (Settings > Email > Logging)."""

    ALL = "all", _("All mail with known contacts")
    REPLIES = "replies", _("Only replies to email sent from the CRM")


class TrackingDomainCheck(models.TextChoices):
    """What the last DNS check of the account's tracking domain found (Settings > Email >
    Sending)."""

    NOT_CHECKED = "", _("Not checked yet")
    RESOLVES = "resolves", _("Resolves to this CRM")
    ELSEWHERE = "elsewhere", _("Points elsewhere")
    MISSING = "missing", _("Does not exist")
    FAILED = "failed", _("DNS failed")
