"""Email the CRM knows: threads, logged or sent messages, tombstones, bounced addresses."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from mailboxes.constants import BounceKind, Direction, LoggedVia, MatchReason
from mailboxes.models.inboxes import Mailbox
from records.models import Activity, Contact


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
    html_body = models.TextField(blank=True, help_text=_("Already sanitized."))
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
    bounce = models.CharField(max_length=4, choices=BounceKind.choices, blank=True)
    bounce_reason = models.CharField(max_length=500, blank=True)
    match_reason = models.CharField(max_length=10, choices=MatchReason.choices, blank=True)
    match_detail = models.CharField(max_length=500, blank=True)
    activity = models.OneToOneField(
        Activity, null=True, blank=True, on_delete=models.CASCADE, related_name="email"
    )
    contacts = models.ManyToManyField(Contact, blank=True, related_name="+")
    # Replies sync found to this email (later incoming messages of its thread that are
    # neither auto-replies nor bounces), kept up to date by sync as replies arrive.
    reply_count = models.PositiveIntegerField(default=0)
    first_reply_at = models.DateTimeField(null=True, blank=True)
    # Logged by forwarding or by hand (not sent or synced): reports leave it out.
    logged_via = models.CharField(
        max_length=8, choices=LoggedVia.choices, blank=True, default=LoggedVia.SYNC
    )
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


class BouncedAddress(models.Model):
    """An address that hard-bounced: flagged on its contacts, refused by later sends."""

    address = models.EmailField(unique=True)
    reason = models.CharField(max_length=500, blank=True)
    message = models.ForeignKey(
        EmailMessage, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    bounced_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return self.address
