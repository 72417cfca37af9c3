"""SMTP API tokens and API keys: one model, so that a sent email's source
(`Source(SendSource.TRANSACTIONAL, id=<credential id>)`) names either without ambiguity.
Imported by transactional.models, so they belong to the transactional app's migrations.

Rows are never deleted: a deleted token or a revoked key keeps its name for reports and its
history, with its secret's hash wiped, so nothing can authenticate with it again.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from transactional.credentials.constants import (
    API_KEY_PREFIX,
    SCOPE_IMPLIES,
    CredentialKind,
    EventKind,
)


class CredentialQuerySet(models.QuerySet):
    def live(self):
        """Neither revoked (or deleted) nor past its expiry: what may authenticate."""
        return self.filter(
            Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now()),
            revoked_at__isnull=True,
        )


class Credential(models.Model):
    kind = models.CharField(max_length=10, choices=CredentialKind.choices)
    name = models.CharField(max_length=100)
    # Public and random: the SMTP username of a token, the middle of an API key
    # (`crm_pat_<lookup_id>_<secret>`), so a login finds its row by an index, no scan.
    lookup_id = models.CharField(max_length=32, unique=True)
    # HMAC-SHA256 of the secret (keys.py); empty once revoked or deleted.
    secret_hash = models.CharField(max_length=64)
    # SET_NULL: a token outlives the user who made it.
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    # Written at most once a minute (constants.LAST_USED_EVERY_SECONDS).
    last_used_at = models.DateTimeField(null=True, blank=True)
    # Revoked (an API key) or deleted (an SMTP token): refused from then on, hidden from lists.
    revoked_at = models.DateTimeField(null=True, blank=True)
    # None: never expires (made on the settings page). An SMTP token made through the API
    # expires 12 months after (HubSpot's rule, constants.API_TOKEN_LIFETIME); past it, it is
    # refused and hidden as a deleted one is.
    expires_at = models.DateTimeField(null=True, blank=True)
    # SMTP tokens only.
    create_contacts = models.BooleanField(default=False)
    campaign_name = models.CharField(max_length=100, blank=True)
    # SMTP tokens only: messages this token may send a minute and an hour (smtp/limits.py);
    # None: the server's default (settings.SMTP_API_MINUTE_LIMIT, SMTP_API_HOUR_LIMIT).
    minute_limit = models.PositiveIntegerField(null=True, blank=True)
    hour_limit = models.PositiveIntegerField(null=True, blank=True)
    # API keys only: constants.Scope values.
    scopes = models.JSONField(default=list, blank=True)

    objects = CredentialQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["kind", "-created_at"], name="credential_kind_created")]

    def __str__(self):
        return f"{self.get_kind_display()} {self.name}"

    @property
    def is_live(self) -> bool:
        return self.revoked_at is None and (
            self.expires_at is None or self.expires_at > timezone.now()
        )

    @property
    def username(self) -> str:
        """An SMTP token's username (HubSpot's token id plays the same part)."""
        return self.lookup_id

    @property
    def api_key_hint(self) -> str:
        """The start of an API key, enough to tell which key a log line or a config holds."""
        return f"{API_KEY_PREFIX}{self.lookup_id}_…"

    @property
    def sending_limits(self) -> tuple[int, int]:
        """An SMTP token's messages a minute and an hour: its own, else the server's (0: none)."""
        return (
            settings.SMTP_API_MINUTE_LIMIT if self.minute_limit is None else self.minute_limit,
            settings.SMTP_API_HOUR_LIMIT if self.hour_limit is None else self.hour_limit,
        )

    def granted_scopes(self) -> set[str]:
        granted = set(self.scopes)
        for scope in self.scopes:
            granted |= {str(s) for s in SCOPE_IMPLIES.get(scope, ())}
        return granted

    def has_scope(self, scope: str) -> bool:
        return scope in self.granted_scopes()


class CredentialEvent(models.Model):
    """One line of a credential's history, the audit trail of who issued, reset or revoked it.
    Rows are never updated."""

    credential = models.ForeignKey(Credential, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=16, choices=EventKind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(default=timezone.now)
    # The one-time key of the form that did it (nonces.py), so the same form posted again (a
    # reload) does nothing twice: unique; None for what no form did.
    nonce = models.CharField(max_length=64, null=True, blank=True, unique=True)

    class Meta:
        ordering = ["-at", "-pk"]

    def __str__(self):
        return f"{self.get_kind_display()} at {self.at:%Y-%m-%d %H:%M}"
