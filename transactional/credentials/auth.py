"""Checking a credential: what the single-send API calls on each request
(`authenticate_api_key`, then `missing_scopes`) and the SMTP API server on each AUTH
(`authenticate_smtp`). Both answer None for anything wrong (unknown, revoked or deleted,
wrong secret), with one query and one HMAC per key, in about the same time either way.
"""

import time
from datetime import timedelta

from axes.utils import reset as axes_reset
from django.conf import settings
from django.contrib.auth import authenticate
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone

from transactional.credentials import keys
from transactional.credentials.constants import LAST_USED_EVERY_SECONDS, CredentialKind
from transactional.credentials.models import Credential

_BEARER = "bearer "


def authenticate_api_key(header_value: str | None) -> Credential | None:
    """The live API key an `Authorization: Bearer crm_pat_…` header names, or None."""
    parsed = _bearer_key(header_value)
    if parsed is None:
        return None
    return _verify(CredentialKind.API_KEY, *parsed)


def _bearer_key(header_value: str | None) -> tuple[str, str] | None:
    """(lookup id, secret) of the API key an `Authorization: Bearer crm_pat_…` header holds."""
    value = (header_value or "").strip()
    if value[: len(_BEARER)].lower() != _BEARER:
        return None
    return keys.parse_api_key(value[len(_BEARER) :].strip())


def api_key_digests(header_value: str | None) -> tuple[str, list[str]] | None:
    """(lookup id, the hashes its row must hold) of the API key a header names, or None when
    it names none: for a query that checks the key itself (transactional/api/send.py), one
    hash per secret key, as `keys.matches` tries them."""
    parsed = _bearer_key(header_value)
    if parsed is None:
        return None
    lookup_id, secret = parsed
    secret_keys = [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]
    return lookup_id, [keys.digest(lookup_id, secret, key) for key in secret_keys]


def missing_scopes(credential: Credential, *scopes: str) -> list[str]:
    """The scopes asked for that the key lacks (HubSpot's 403 lists them as missingScopes)."""
    granted = credential.granted_scopes()
    return [s for s in scopes if s not in granted]


def authenticate_smtp(username: str, password: str, *, client_address: str) -> Credential | None:
    """The live SMTP token with this username and password, or None.

    Goes through django.contrib.auth's `authenticate`, so django-axes counts a failure against
    the username and the client's address with the web login's policy, and refuses a locked
    out one even with the right password (`backends.SmtpTokenBackend` checks the token).
    """
    request = HttpRequest()
    request.META["REMOTE_ADDR"] = client_address
    request.path = request.path_info = "smtp-api"
    found = authenticate(request, smtp_username=username, smtp_password=password)
    if not isinstance(found, Credential):
        return None
    if settings.AXES_RESET_ON_SUCCESS:
        # As a web sign-in does (axes does it on user_logged_in, which a token never sends).
        axes_reset(username=username)
    return found


def verify_smtp(username: str, password: str) -> Credential | None:
    """The token check itself, without the login throttling: for the auth backend."""
    return _verify(CredentialKind.SMTP_TOKEN, username, password)


def _verify(kind: str, lookup_id: str, secret: str) -> Credential | None:
    credential = Credential.objects.live().filter(kind=kind, lookup_id=lookup_id).first()
    # An unknown id costs the same HMAC as a known one.
    ok = keys.matches(credential.secret_hash if credential else "-", lookup_id, secret)
    if credential is None or not ok:
        return None
    mark_used(credential)
    return credential


def mark_used(credential: Credential) -> None:
    """Record that it was used now, at most once a minute: most calls write nothing."""
    now = timezone.now()
    since = now - timedelta(seconds=LAST_USED_EVERY_SECONDS)
    if credential.last_used_at is not None and credential.last_used_at > since:
        return
    _mark(credential.pk, now)
    credential.last_used_at = now


# Credential id -> when this process last marked it used (time.monotonic()).
_marked: dict[int, float] = {}


def mark_used_by_id(pk: int) -> None:
    """`mark_used` for a key checked by a query that read no row: at most one UPDATE a minute
    per key and process, which writes nothing when another process marked it lately."""
    clock = time.monotonic()
    if clock - _marked.get(pk, -LAST_USED_EVERY_SECONDS) < LAST_USED_EVERY_SECONDS:
        return
    _mark(pk, timezone.now())
    _marked[pk] = clock


def _mark(pk: int, now) -> None:
    since = now - timedelta(seconds=LAST_USED_EVERY_SECONDS)
    Credential.objects.filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lte=since), pk=pk
    ).update(last_used_at=now)
