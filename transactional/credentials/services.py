"""Issuing, resetting and revoking credentials: each in one transaction with its line of
history (who, when). The secret is returned once, in `Issued`, and never stored."""

from dataclasses import dataclass
from datetime import datetime

from axes.utils import reset as reset_login_failures
from django.db import transaction
from django.utils import timezone

from records.models import User
from transactional.credentials import keys
from transactional.credentials.constants import CredentialKind, EventKind
from transactional.credentials.models import Credential, CredentialEvent


@dataclass(frozen=True)
class Issued:
    """What is shown once: an SMTP token's username and password, or an API key."""

    credential: Credential
    secret: str

    @property
    def username(self) -> str:
        return self.credential.username

    @property
    def password(self) -> str:
        return self.secret

    @property
    def api_key(self) -> str:
        return keys.api_key(self.credential.lookup_id, self.secret)


def _issue(kind: str, name: str, actor: User | None, **fields) -> Issued:
    lookup_id, secret = keys.new_lookup_id(), keys.new_secret()
    with transaction.atomic():
        credential = Credential.objects.create(
            kind=kind,
            name=name,
            lookup_id=lookup_id,
            secret_hash=keys.digest(lookup_id, secret),
            created_by=actor,
            **fields,
        )
        CredentialEvent.objects.create(credential=credential, kind=EventKind.CREATED, actor=actor)
    return Issued(credential, secret)


def smtp_token_create(
    name: str,
    actor: User | None,
    *,
    create_contacts: bool = False,
    campaign_name: str = "",
    expires_at: datetime | None = None,
) -> Issued:
    """A new SMTP token; `expires_at` None: it never expires (the settings page's)."""
    return _issue(
        CredentialKind.SMTP_TOKEN,
        name,
        actor,
        create_contacts=create_contacts,
        campaign_name=campaign_name,
        expires_at=expires_at,
    )


def api_key_create(name: str, actor: User | None, *, scopes: list[str]) -> Issued:
    return _issue(CredentialKind.API_KEY, name, actor, scopes=sorted(set(scopes)))


@transaction.atomic
def password_reset(credential: Credential, actor: User | None) -> Issued:
    """A new secret for a live credential; the old one stops working with this commit."""
    credential = Credential.objects.select_for_update().live().get(pk=credential.pk)
    secret = keys.new_secret()
    credential.secret_hash = keys.digest(credential.lookup_id, secret)
    credential.save(update_fields=["secret_hash"])
    CredentialEvent.objects.create(
        credential=credential, kind=EventKind.PASSWORD_RESET, actor=actor
    )
    return Issued(credential, secret)


@transaction.atomic
def credential_revoke(credential: Credential, actor: User | None) -> bool:
    """Revoke a key or delete a token: refused from now on, its hash wiped. The row stays for
    the reports and the history. False if it was revoked already."""
    changed = (
        Credential.objects.live()
        .filter(pk=credential.pk)
        .update(revoked_at=timezone.now(), secret_hash="")
    )
    if changed:
        kind = (
            EventKind.DELETED if credential.kind == CredentialKind.SMTP_TOKEN else EventKind.REVOKED
        )
        CredentialEvent.objects.create(credential=credential, kind=kind, actor=actor)
    return bool(changed)


@transaction.atomic
def login_unlock(credential: Credential, actor: User | None) -> None:
    """Forget the failed logins of a token's username (django-axes), which lifts its lockout."""
    reset_login_failures(username=credential.username)
    CredentialEvent.objects.create(credential=credential, kind=EventKind.UNLOCKED, actor=actor)
