"""Issuing, resetting and revoking credentials: each in one transaction with its line of
history (who, when). The secret is returned once, in `Issued`, and never stored."""

from dataclasses import dataclass
from datetime import datetime

from axes.utils import reset as reset_login_failures
from django.db import IntegrityError, transaction
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


class AlreadyDone(Exception):
    """The form with this nonce was posted before (a reload): nothing was made again."""

    def __init__(self, event: CredentialEvent):
        super().__init__(f"{event.kind} of credential {event.credential_id} was done already")
        self.event = event

    @property
    def credential(self) -> Credential:
        return self.event.credential


def _done_before(nonce: str | None) -> None:
    event = (
        CredentialEvent.objects.select_related("credential").filter(nonce=nonce).first()
        if nonce
        else None
    )
    if event is not None:
        raise AlreadyDone(event)


def _once(nonce: str | None, work):
    """Run `work` in a transaction unless a form with `nonce` did it already (AlreadyDone);
    the nonce's uniqueness settles two posts at once."""
    _done_before(nonce)
    try:
        with transaction.atomic():
            return work()
    except IntegrityError:
        _done_before(nonce)
        raise


def _issue(kind: str, name: str, actor: User | None, nonce: str | None, **fields) -> Issued:
    lookup_id, secret = keys.new_lookup_id(), keys.new_secret()

    def work():
        credential = Credential.objects.create(
            kind=kind,
            name=name,
            lookup_id=lookup_id,
            secret_hash=keys.digest(lookup_id, secret),
            created_by=actor,
            **fields,
        )
        CredentialEvent.objects.create(
            credential=credential, kind=EventKind.CREATED, actor=actor, nonce=nonce
        )
        return Issued(credential, secret)

    return _once(nonce, work)


def smtp_token_create(
    name: str,
    actor: User | None,
    *,
    create_contacts: bool = False,
    campaign_name: str = "",
    minute_limit: int | None = None,
    hour_limit: int | None = None,
    nonce: str | None = None,
    expires_at: datetime | None = None,
) -> Issued:
    """A new SMTP token; `expires_at` None: it never expires (the settings page's)."""
    return _issue(
        CredentialKind.SMTP_TOKEN,
        name,
        actor,
        nonce,
        create_contacts=create_contacts,
        campaign_name=campaign_name,
        minute_limit=minute_limit,
        hour_limit=hour_limit,
        expires_at=expires_at,
    )


@transaction.atomic
def limits_change(
    credential: Credential, actor: User | None, *, minute_limit: int | None, hour_limit: int | None
) -> bool:
    """A token's own sending limits (None: the server's), with a line of history if they
    changed. The SMTP server reads them with each message, so they hold from the next one."""
    changed = (
        Credential.objects.live()
        .filter(pk=credential.pk)
        .exclude(minute_limit=minute_limit, hour_limit=hour_limit)
        .update(minute_limit=minute_limit, hour_limit=hour_limit)
    )
    if changed:
        CredentialEvent.objects.create(
            credential=credential, kind=EventKind.LIMITS_CHANGED, actor=actor
        )
    return bool(changed)


def api_key_create(
    name: str, actor: User | None, *, scopes: list[str], nonce: str | None = None
) -> Issued:
    return _issue(CredentialKind.API_KEY, name, actor, nonce, scopes=sorted(set(scopes)))


def password_reset(credential: Credential, actor: User | None, nonce: str | None = None) -> Issued:
    """A new secret for a live credential; the old one stops working with this commit."""

    def work():
        locked = Credential.objects.select_for_update().live().get(pk=credential.pk)
        secret = keys.new_secret()
        locked.secret_hash = keys.digest(locked.lookup_id, secret)
        locked.save(update_fields=["secret_hash"])
        CredentialEvent.objects.create(
            credential=locked, kind=EventKind.PASSWORD_RESET, actor=actor, nonce=nonce
        )
        return Issued(locked, secret)

    return _once(nonce, work)


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
