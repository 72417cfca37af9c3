from datetime import timedelta

from django.db import models
from django.utils.translation import gettext_lazy as _


class CredentialKind(models.TextChoices):
    SMTP_TOKEN = "smtp_token", _("SMTP API token")
    API_KEY = "api_key", _("API key")


class EventKind(models.TextChoices):
    """What a credential's history records: who did what to it, and when."""

    CREATED = "created", _("Created")
    PASSWORD_RESET = "password_reset", _("Password reset")
    REVOKED = "revoked", _("Revoked")
    DELETED = "deleted", _("Deleted")
    UNLOCKED = "unlocked", _("Unlocked after failed logins")
    LIMITS_CHANGED = "limits_changed", _("Sending limits changed")


class Scope(models.TextChoices):
    """What an API key may do. `transactional-email` is HubSpot's scope, so an integration
    repointed here asks for the same one; the read-only scope is ours, for dashboards."""

    TRANSACTIONAL_EMAIL = (
        "transactional-email",
        _("Send transactional email, read send statuses, manage SMTP API tokens"),
    )
    TRANSACTIONAL_EMAIL_READ = (
        "transactional-email.read",
        _("Read send statuses and delivery events only"),
    )


# A scope a key holds also grants these.
SCOPE_IMPLIES = {
    Scope.TRANSACTIONAL_EMAIL: {Scope.TRANSACTIONAL_EMAIL_READ},
}

# The prefix of every API key: one grep finds a leaked key in a log or a repository.
API_KEY_PREFIX = "crm_pat_"

# last_used_at is written at most this often per credential: authentication runs on every
# request, and a write per request would make every API call a write.
LAST_USED_EVERY_SECONDS = 60

# An SMTP token made through the API expires this long after (HubSpot: 12 months); one made
# on the settings page never does.
API_TOKEN_LIFETIME = timedelta(days=365)
