"""DKIM for the sending pool: a 2048-bit RSA key the product makes (`cryptography`), the TXT
record to publish for it, and the signature of each message (dkimpy, a maintained library:
no home-made canonicalization).

The signature is made by the sending worker just before the message goes to the relay, over
the exact bytes it sends, so the relay must pass them on unchanged (all relays named in the
README do).
"""

from __future__ import annotations

import base64

import dkim
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

KEY_BITS = 2048
# Signed when present: what a receiver shows and what ties a message to its thread.
SIGNED_HEADERS = [
    b"from",
    b"to",
    b"cc",
    b"subject",
    b"date",
    b"message-id",
    b"reply-to",
    b"in-reply-to",
    b"references",
    b"mime-version",
    b"content-type",
    b"list-unsubscribe",
]


def generate_key() -> tuple[str, str]:
    """A new key pair: (private key PEM, PKCS#1, as dkimpy reads it; public key base64, the
    p= of the TXT record)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, base64.b64encode(public).decode()


def record_name(selector: str, domain: str) -> str:
    return f"{selector}._domainkey.{domain}"


def record_value(public_key: str) -> str:
    return f"v=DKIM1; k=rsa; p={public_key}"


def sign(raw: bytes, selector: str, domain: str, private_key: str) -> bytes:
    """`raw` with a DKIM-Signature header on top (relaxed/relaxed: relays that re-fold
    headers or trailing spaces do not break it)."""
    header = dkim.sign(
        raw,
        selector.encode(),
        domain.encode(),
        private_key.encode(),
        canonicalize=(b"relaxed", b"relaxed"),
        include_headers=SIGNED_HEADERS,
    )
    return header + raw
