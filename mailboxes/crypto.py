"""Encrypt secrets at rest (inbox passwords, OAuth tokens) with keys from the environment.

CRM_ENCRYPTION_KEYS holds one or more Fernet keys, comma-separated: the first encrypts, every
one decrypts, so a new key is rotated in by putting it first and running
`manage.py rotate_encryption_keys`, after which the old key can be removed.
"""

import base64
import hashlib
import json
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class SecretUnreadable(Exception):
    """A stored secret no configured key can decrypt (a key was removed too early)."""


def _dev_key() -> bytes:
    # Development only: a stable key derived from SECRET_KEY so `make run` needs no setup.
    return base64.urlsafe_b64encode(hashlib.sha256(settings.SECRET_KEY.encode()).digest())


@lru_cache(maxsize=4)
def _multifernet(keys: tuple[str, ...]) -> MultiFernet:
    try:
        return MultiFernet([Fernet(k.encode() if isinstance(k, str) else k) for k in keys])
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(
            "CRM_ENCRYPTION_KEYS must be Fernet keys (32 url-safe base64 bytes each)"
        ) from exc


def _keys() -> tuple[str, ...]:
    # Production settings refuse to load without keys, so the fallback is development-only.
    return tuple(settings.CRM_ENCRYPTION_KEYS) or (_dev_key().decode(),)


def encrypt(value) -> str:
    """Encrypt any JSON-serialisable value to a text token."""
    data = json.dumps(value, separators=(",", ":")).encode()
    return _multifernet(_keys()).encrypt(data).decode()


def decrypt(token: str):
    try:
        data = _multifernet(_keys()).decrypt(token.encode())
    except InvalidToken:
        raise SecretUnreadable("No configured encryption key can read this secret") from None
    return json.loads(data)


def rotate(token: str) -> str:
    """Re-encrypt a token with the current (first) key."""
    try:
        return _multifernet(_keys()).rotate(token.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable("No configured encryption key can read this secret") from None


def generate_key() -> str:
    return Fernet.generate_key().decode()
