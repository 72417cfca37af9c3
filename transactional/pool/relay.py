"""Reaching the pool's SMTP relay through mailboxes' SMTP adapter (providers/imap_smtp.py),
reached through the providers' registry like every other adapter: the same TLS, login and
error handling as an inbox's SMTP, used for sending only (nothing here reads IMAP).

The relay is named by an admin, not by a user, so the network policy for user-named servers
(CRM_MAIL_SERVER_ALLOWLIST) does not apply: a Postfix on this machine or the LAN is usual.
"""

from __future__ import annotations

import ipaddress

from mailboxes.providers import get_provider
from mailboxes.providers.base import ConnectionSettings, MailProvider, OutgoingMessage
from transactional.pool import dkim
from transactional.pool.models import SendingPool

# A relay answers in well under this; a test email from the page waits for it.
RELAY_TIMEOUT = 20.0
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def is_loopback(host: str) -> bool:
    """Whether `host` names this machine (where a relay without TLS is acceptable)."""
    name = host.strip().strip("[]").lower().rstrip(".")
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def connection_settings(pool: SendingPool, timeout: float = RELAY_TIMEOUT) -> ConnectionSettings:
    # The IMAP half of the settings is never used: the pool only sends.
    return ConnectionSettings(
        email=pool.from_address,
        username=pool.username,
        password=pool.secret.get("password", ""),
        imap_host=pool.host,
        imap_port=0,
        imap_security="ssl",
        smtp_host=pool.host,
        smtp_port=pool.port,
        smtp_security=pool.security,
        timeout=timeout,
    )


def open_relay(pool: SendingPool, timeout: float = RELAY_TIMEOUT) -> MailProvider:
    """An adapter that sends through the relay (one SMTP session, reused); the caller closes
    it."""
    return get_provider("imap", connection_settings(pool, timeout))


def outgoing(
    pool: SendingPool,
    envelope_from: str,
    recipients,
    raw: bytes,
    message_id: str,
    *,
    ask_reports: bool = False,
):
    """The message as it goes to the relay: DKIM-signed by the product when the pool signs."""
    if pool.signs:
        raw = dkim.sign(raw, pool.dkim_selector, pool.domain, pool.secret["dkim_private_key"])
    # With `ask_reports` (the envelope From is an inbox the CRM reads), a relay that
    # advertises DSN is asked for a report on delivery (and failure), its envelope id the
    # Message-ID: the success report comes back to the envelope From and, read by mailboxes'
    # bounce processing there, becomes the message's "delivered" event. Nobody reading that
    # address, the reports would only pile up there: none is asked for.
    return OutgoingMessage(
        envelope_from=envelope_from,
        recipients=list(recipients),
        raw=raw,
        message_id=message_id,
        dsn_envelope_id=message_id if ask_reports else None,
    )
