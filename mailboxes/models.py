"""Connected inboxes, team inboxes, sync cursors and the email messages logged to the CRM."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

from records.models import Activity, Contact, Team

from .constants import (
    TEAM_PROVIDERS,
    Direction,
    MailboxKind,
    MailboxStatus,
    MatchReason,
    Provider,
    Security,
    TeamInboxKind,
)
from .fields import EncryptedJSONField


class TeamInbox(models.Model):
    """A shared inbox (conversations or help desk) that one team address connects to.

    Routing: new conversations go to `route_to_user` if set, else to `route_to_team`.
    """

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=20, choices=TeamInboxKind.choices)
    display_name = models.CharField(
        max_length=150, blank=True, help_text="The From name on email sent from this inbox."
    )
    route_to_team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    route_to_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "team inboxes"

    def __str__(self):
        return self.name


class Mailbox(models.Model):
    """One connected address: a user's personal inbox, or the address of a team inbox.

    `secret` holds passwords and OAuth tokens, encrypted; `config` holds what is safe to show
    (servers, ports, username, granted scopes). An address is connected once in the whole
    account, whatever its kind.
    """

    kind = models.CharField(max_length=10, choices=MailboxKind.choices)
    provider = models.CharField(max_length=12, choices=Provider.choices)
    email = models.EmailField()
    display_name = models.CharField(max_length=150, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="mailboxes",
    )
    team_inbox = models.OneToOneField(
        TeamInbox, null=True, blank=True, on_delete=models.CASCADE, related_name="mailbox"
    )
    status = models.CharField(
        max_length=20, choices=MailboxStatus.choices, default=MailboxStatus.CONNECTED
    )
    status_reason = models.TextField(blank=True)
    status_changed_at = models.DateTimeField(default=timezone.now)
    secret = EncryptedJSONField(blank=True, default=dict)
    config = models.JSONField(default=dict, blank=True)
    is_default_from = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_sync_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["email"]
        constraints = [
            models.UniqueConstraint(Lower("email"), name="mailbox_email_unique"),
            models.CheckConstraint(
                condition=(
                    Q(kind=MailboxKind.PERSONAL, owner__isnull=False, team_inbox__isnull=True)
                    | Q(
                        kind=MailboxKind.TEAM,
                        owner__isnull=True,
                        team_inbox__isnull=False,
                        provider__in=[p.value for p in TEAM_PROVIDERS],
                    )
                ),
                name="mailbox_kind_consistent",
            ),
            models.UniqueConstraint(
                fields=["owner"], condition=Q(is_default_from=True), name="one_default_from"
            ),
        ]

    def __str__(self):
        return self.email

    def set_status(self, status: str, reason: str = "") -> None:
        self.status, self.status_reason = status, reason
        self.status_changed_at = timezone.now()
        self.save(update_fields=["status", "status_reason", "status_changed_at"])

    def mark_needs_reconnect(self, reason: str) -> None:
        self.set_status(MailboxStatus.NEEDS_RECONNECT, reason)

    def mark_error(self, reason: str) -> None:
        self.set_status(MailboxStatus.ERROR, reason)

    def mark_connected(self) -> None:
        self.set_status(MailboxStatus.CONNECTED)

    @property
    def from_name_supported(self) -> bool:
        # Office 365 ignores a client-set From name (BOX-3).
        return self.provider != Provider.OFFICE365


class SendAsAddress(models.Model):
    """An address a mailbox may send as: Gmail "send as" aliases, offered in the From menu."""

    mailbox = models.ForeignKey(Mailbox, on_delete=models.CASCADE, related_name="aliases")
    email = models.EmailField()
    display_name = models.CharField(max_length=150, blank=True)
    is_primary = models.BooleanField(default=False)

    class Meta:
        ordering = ["-is_primary", "email"]
        constraints = [models.UniqueConstraint(fields=["mailbox", "email"], name="alias_unique")]

    def __str__(self):
        return self.email


class DomainServerSettings(models.Model):
    """IMAP/SMTP servers an admin set for a domain; the connect flow tries these first."""

    domain = models.CharField(max_length=255, unique=True)
    imap_host = models.CharField(max_length=255)
    imap_port = models.PositiveIntegerField(default=993)
    imap_security = models.CharField(max_length=10, choices=Security.choices, default=Security.SSL)
    smtp_host = models.CharField(max_length=255)
    smtp_port = models.PositiveIntegerField(default=587)
    smtp_security = models.CharField(
        max_length=10, choices=Security.choices, default=Security.STARTTLS
    )

    def __str__(self):
        return self.domain


class FolderSync(models.Model):
    """Where sync stands in one folder of one mailbox, and what a user needs to trust it.

    `cursor` is opaque: only the provider adapter reads it (IMAP UIDVALIDITY/UID/MODSEQ, a Gmail
    historyId, a Graph deltaLink, an EWS sync state).
    """

    mailbox = models.ForeignKey(Mailbox, on_delete=models.CASCADE, related_name="folders")
    folder = models.CharField(max_length=255)
    role = models.CharField(max_length=20, blank=True)
    cursor = models.TextField(blank=True)
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    seen = models.PositiveIntegerField(default=0)
    logged = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    skip_reasons = models.JSONField(default=dict, blank=True)
    gap = models.TextField(blank=True, help_text="Messages the reconciliation found missing.")
    reconciled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["mailbox", "folder"]
        constraints = [
            models.UniqueConstraint(fields=["mailbox", "folder"], name="folder_sync_unique")
        ]

    def __str__(self):
        return f"{self.mailbox} / {self.folder}"


class EmailThread(models.Model):
    """Messages that belong together by Message-ID / In-Reply-To / References."""

    subject = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return self.subject or f"thread {self.pk}"


class EmailMessage(models.Model):
    """One email the CRM knows: logged from sync, or sent from the product.

    A message that could not be parsed keeps its raw bytes and `malformed=True`; it is never
    dropped. `match_reason` says why it is on the records it is on.
    """

    mailbox = models.ForeignKey(Mailbox, null=True, on_delete=models.SET_NULL, related_name="+")
    folder = models.CharField(max_length=255, blank=True)
    provider_ref = models.CharField(max_length=255, blank=True)
    message_id = models.CharField(max_length=998, blank=True)
    in_reply_to = models.CharField(max_length=998, blank=True)
    references = models.TextField(blank=True)
    thread = models.ForeignKey(EmailThread, on_delete=models.PROTECT, related_name="messages")
    direction = models.CharField(max_length=3, choices=Direction.choices)
    from_addr = models.CharField(max_length=320, blank=True)
    from_name = models.CharField(max_length=255, blank=True)
    to_addrs = models.JSONField(default=list, blank=True)
    cc_addrs = models.JSONField(default=list, blank=True)
    subject = models.CharField(max_length=998, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    text_body = models.TextField(blank=True)
    html_body = models.TextField(blank=True, help_text="Already sanitized.")
    snippet = models.CharField(max_length=300, blank=True)
    has_attachments = models.BooleanField(default=False)
    size = models.PositiveIntegerField(default=0)
    is_auto_reply = models.BooleanField(default=False)
    auto_reply_reason = models.CharField(max_length=100, blank=True)
    # Bodies are parsed and sanitized after the timeline row exists (sync stays fast);
    # until then the row shows its headers and the raw bytes are kept.
    body_parsed = models.BooleanField(default=False)
    malformed = models.BooleanField(default=False)
    parse_error = models.TextField(blank=True)
    raw = models.BinaryField(null=True, blank=True)
    match_reason = models.CharField(max_length=10, choices=MatchReason.choices, blank=True)
    match_detail = models.CharField(max_length=500, blank=True)
    activity = models.OneToOneField(
        Activity, null=True, blank=True, on_delete=models.CASCADE, related_name="email"
    )
    contacts = models.ManyToManyField(Contact, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["message_id"], name="email_message_id"),
            models.Index(fields=["thread", "sent_at"], name="email_thread_order"),
        ]
        constraints = [
            # Sync is idempotent: the same message fetched twice into one mailbox is one row.
            models.UniqueConstraint(
                fields=["mailbox", "message_id"],
                condition=~Q(message_id=""),
                name="email_unique_per_mailbox",
            ),
        ]

    def __str__(self):
        return self.subject or self.message_id


class Tombstone(models.Model):
    """A message someone deleted from the CRM: sync must not import it again."""

    mailbox = models.ForeignKey(Mailbox, on_delete=models.CASCADE, related_name="tombstones")
    message_id = models.CharField(max_length=998)
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    deleted_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["mailbox", "message_id"], name="tombstone_unique")
        ]

    def __str__(self):
        return self.message_id
