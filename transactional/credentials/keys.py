"""Making and checking secrets.

A secret is 32 random bytes (`secrets.token_urlsafe`), shown once and stored as
HMAC-SHA256(pepper, lookup id + secret). A slow password hash (PBKDF2, Argon2) protects what
people choose from guessing; a 256-bit random secret cannot be guessed, so it would only add
tens of milliseconds of CPU to every API request and SMTP login. The key of the HMAC (the
pepper, derived from SECRET_KEY by Django's `salted_hmac`) means a copy of the database alone
cannot even check a guess. Hashes made under a key in SECRET_KEY_FALLBACKS still verify, so
the secret key can be rotated without cutting every integration off at once.
"""

import hmac
import secrets

from django.conf import settings
from django.utils.crypto import salted_hmac

from transactional.credentials.constants import API_KEY_PREFIX

_SALT = "transactional.credentials"
SECRET_BYTES = 32


def new_lookup_id() -> str:
    return secrets.token_hex(8)


def new_secret() -> str:
    return secrets.token_urlsafe(SECRET_BYTES)


def digest(lookup_id: str, secret: str, key: str | None = None) -> str:
    return salted_hmac(_SALT, f"{lookup_id}:{secret}", secret=key, algorithm="sha256").hexdigest()


def matches(stored: str, lookup_id: str, secret: str) -> bool:
    """Whether `secret` is the one `stored` was made from, in constant time per key tried."""
    found = False
    for key in [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]:
        # No early exit: every key is tried, so the time does not say which one matched.
        found |= hmac.compare_digest(stored, digest(lookup_id, secret, key))
    return found and bool(stored)


def api_key(lookup_id: str, secret: str) -> str:
    return f"{API_KEY_PREFIX}{lookup_id}_{secret}"


def parse_api_key(value: str) -> tuple[str, str] | None:
    """(lookup id, secret) of a key as `api_key` writes it, or None."""
    if not value.startswith(API_KEY_PREFIX):
        return None
    lookup_id, _, secret = value[len(API_KEY_PREFIX) :].partition("_")
    if not lookup_id or not secret:
        return None
    return lookup_id, secret
