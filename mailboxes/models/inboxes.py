"""Connected inboxes, team inboxes, server settings per domain and sync state per folder."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from mailboxes.constants import (
    TEAM_PROVIDERS,
    MailboxKind,
    MailboxStatus,
    Provider,
    Security,
    TeamInboxKind,
)
from mailboxes.fields import EncryptedJSONField
from records.models import Team


class TeamInbox(models.Model):
    """A shared inbox (conversations or help desk) that one team address connects to.

    Routing: new conversations go to `route_to_user` if set, else to `route_to_team`.
    """

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=20, choices=TeamInboxKind.choices)
    display_name = models.CharField(
        max_length=150, blank=True, help_text=_("The From name on email sent from this inbox.")
    )
    route_to_team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    route_to_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Fair assignment (mailboxes/conversations/routing.py): each new conversation to the next
    # member of `route_to_team` who is working now and has fewer than `open_cap` open ones.
    round_robin = models.BooleanField(
        default=False,
        help_text=_(
            "Give each new conversation to the next teammate who is working now (their "
            "working hours) and under the cap, in turn."
        ),
    )
    open_cap = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text=_(
            "With round robin: the most open conversations one person is given. Those waiting "
            "while everyone is at it are given out as soon as someone is free. Empty: no cap."
        ),
    )
    reassign_after_minutes = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text=_(
            "With round robin: give a conversation to the next free teammate when its "
            "assignee has not answered the customer within this many working minutes (the "
            "account's business hours). Empty: never."
        ),
    )
    # Whether a person's email from an unknown address makes its sender a contact (and the
    # conversation is logged on them), whatever the account's logging rules say.
    create_contacts = models.BooleanField(
        default=True,
        help_text=_(
            "Make a contact of everyone who writes to this address from an address no contact "
            "has (people only: no automatic or list mail). Off: only mail from known contacts "
            "is kept, as the account's logging rules say."
        ),
    )
    # Response-time target (working minutes, the account's business hours): the inbox's list
    # marks conversations waiting on the team that are close to it or past it.
    response_target_minutes = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text=_(
            "Working minutes (the account's business hours) within which the team answers a "
            "customer's email. The inbox marks conversations close to it or past it. Empty: "
            "no target."
        ),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = _("team inboxes")

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
    # Sending limits; mail over them waits in the queue, visibly "queued".
    send_per_minute = models.PositiveIntegerField(default=20)
    send_per_day = models.PositiveIntegerField(default=500)
    # Whether the sending server files what it relays in the Sent folder by itself (learned
    # by the Sent-copy filer; unknown until then). Only then does "not in Sent" prove that a
    # plain SMTP send whose answer was lost never went out.
    server_files_sent = models.BooleanField(null=True, blank=True)
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
                        # The demo inbox of `make run` stands in for one (never connectable
                        # as a team inbox: connecting/services.py).
                        provider__in=[p.value for p in (*TEAM_PROVIDERS, Provider.DEMO)],
                    )
                ),
                name="mailbox_kind_consistent",
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
        # Office 365 ignores a client-set From name.
        return self.provider != Provider.OFFICE365


def team_mailboxes_for(user):
    """The team inboxes' addresses `user` works from: those routed to them or to their team
    (admins: all). The conversations inbox shows these, the composer offers them as From."""
    teams = Mailbox.objects.filter(kind=MailboxKind.TEAM)
    if not user.is_staff:
        teams = teams.filter(
            Q(team_inbox__route_to_user=user) | Q(team_inbox__route_to_team_id=user.team_id or -1)
        )
    return teams.select_related("team_inbox").order_by("email")


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
    gap = models.TextField(blank=True, help_text=_("Messages the reconciliation found missing."))
    reconciled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["mailbox", "folder"]
        constraints = [
            models.UniqueConstraint(fields=["mailbox", "folder"], name="folder_sync_unique")
        ]

    def __str__(self):
        return f"{self.mailbox} / {self.folder}"


class SyncLease(models.Model):
    """Which worker is syncing an inbox, and until when: one sync of an inbox at a time.

    A row in the database rather than a lock in the cache, because the embedded setup's cache
    is per process, and a Redis key outlives a killed worker for its whole expiry; rather than
    a PostgreSQL advisory lock (which would die with the connection), because SQLite has none.
    Rather than fields on Mailbox, because connect flows save Mailbox rows whole, and a stale
    copy would write an old holder back. The holder ("host:pid:random") renews `expires_at`
    while it is alive (`mailboxes/sync/lease.py`); a dead one's lease simply runs out.
    `waiting_since` is set when a sync was turned away during this holder's lease, for the
    Email page to say why that inbox is not syncing.
    """

    mailbox = models.OneToOneField(
        Mailbox, primary_key=True, on_delete=models.CASCADE, related_name="sync_lease"
    )
    holder = models.CharField(max_length=255, blank=True)  # "" when free
    acquired_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    waiting_since = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"{self.mailbox_id}: {self.holder or 'free'}"

    @property
    def holder_host(self) -> str:
        return self.holder.rsplit(":", 2)[0]

    @property
    def holder_pid(self) -> str:
        parts = self.holder.rsplit(":", 2)
        return parts[1] if len(parts) == 3 else ""

    @property
    def expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()
