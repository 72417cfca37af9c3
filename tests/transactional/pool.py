"""Helpers of the sending pool's tests: a pool pointed at an aiosmtpd sink standing in for the
relay, a transactional email as the API and the SMTP API will queue it, and DKIM's DNS."""

from __future__ import annotations

import dns.resolver

from mailboxes.constants import SendSource
from mailboxes.models import Outbound
from mailboxes.outbox.enqueue import OutgoingEmail, Source, email_enqueue
from privacy.constants import SenderContext
from transactional.pool import dkim
from transactional.pool.models import SendingPool

FROM = "receipts@shop.test"


def pool_for(sink, *, signing: bool = False, **fields) -> SendingPool:
    """Turn the add-on on and point the pool at `sink` (loopback, no TLS, its login)."""
    pool = SendingPool.load()
    pool.enabled = True
    pool.host, pool.port, pool.security = sink.host, sink.port, "none"
    pool.username = sink.user
    pool.secret = {"password": sink.password}
    pool.from_address, pool.from_name = FROM, "Shop receipts"
    if signing:
        private, public = dkim.generate_key()
        pool.secret = {**pool.secret, "dkim_private_key": private}
        pool.dkim_public_key, pool.dkim_signing = public, True
    for name, value in fields.items():
        setattr(pool, name, value)
    pool.save()
    return pool


def transactional(to: str = "ada@client.test", contacts=(), **fields) -> OutgoingEmail:
    values = {
        "mailbox": None,
        "from_address": FROM,
        "from_name": "Shop receipts",
        "subject": "Your receipt",
        "html": "<p>Thanks! <a href='https://shop.test/orders/1'>Your order</a></p>",
        "to": [to],
        "privacy_context": SenderContext.TRANSACTIONAL,
        "source": Source(SendSource.TRANSACTIONAL, id=7),
        "contacts": list(contacts),
        "log": bool(contacts),
    }
    return OutgoingEmail(**{**values, **fields})


def queue(to: str = "ada@client.test", **fields) -> Outbound:
    message = email_enqueue(transactional(to, **fields))
    return Outbound.objects.select_related("message").get(message=message)


def txt_value(text: str) -> str:
    """A TXT record's zone text: strings of at most 255 characters (a 2048-bit key is longer)."""
    return " ".join(f'"{text[i : i + 255]}"' for i in range(0, len(text), 255))


def dkim_dns(resolver: dns.resolver.Resolver):
    """dkimpy's `dnsfunc`, answered by `resolver` (the local DNS server)."""

    def lookup(name, timeout=5):
        name = name.decode() if isinstance(name, bytes) else name
        answer = resolver.resolve(name, "TXT", search=False)
        return b"".join(b"".join(r.strings) for r in answer)

    return lookup
