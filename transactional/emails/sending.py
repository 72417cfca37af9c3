"""A transactional email made ready for the outbox: rendered for one recipient and handed to
the one enqueue service with the TRANSACTIONAL privacy context (no legal basis, no
unsubscribe link) and source, so the sending pool sends it (transactional/pool/)."""

from __future__ import annotations

from datetime import datetime

from mailboxes.constants import SendSource
from mailboxes.outbox.enqueue import OutgoingEmail, Source
from privacy.constants import SenderContext
from records.models import Contact, User
from transactional.emails.models import TransactionalEmail
from transactional.emails.render import Rendered
from transactional.pool.models import SendingPool


def domain_of(address: str) -> str:
    return address.rpartition("@")[2].lower()


def from_of(email: TransactionalEmail, pool: SendingPool) -> tuple[str, str]:
    """(name, address) the email goes out from: its own, else the pool's defaults."""
    return (email.from_name or pool.from_name, email.from_address or pool.from_address)


def outgoing(
    email: TransactionalEmail,
    rendered: Rendered,
    pool: SendingPool,
    *,
    to: str,
    contact: Contact | None,
    source_id: int | None = None,
    sender: User | None = None,
    from_name: str = "",
    from_address: str = "",
    reply_to: list[str] | None = None,
    cc: list[str] | None = None,
    bcc: list[str] | None = None,
    scheduled_at: datetime | None = None,
) -> OutgoingEmail:
    name, address = from_of(email, pool)
    return OutgoingEmail(
        mailbox=None,
        from_address=from_address or address,
        from_name=from_name or name,
        subject=rendered.subject,
        html=rendered.html,
        to=[to],
        cc=list(cc or ()),
        bcc=list(bcc or ()),
        reply_to_addresses=list(reply_to or ([email.reply_to] if email.reply_to else [])),
        privacy_context=SenderContext.TRANSACTIONAL,
        source=Source(SendSource.TRANSACTIONAL, id=source_id),
        sender=sender,
        contacts=[contact] if contact is not None else [],
        log=contact is not None,
        scheduled_at=scheduled_at,
        timeline_title=email.name,
    )
