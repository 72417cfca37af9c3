"""One single-send request: checked whole before anything is written (an unknown or
unpublished email, a bad address, missing custom properties each refuse it), then in one
transaction the SingleSend row (its sendId unique: a repeat answers the first send), the
contact and the email queued for the sending pool. Nothing is sent in the request."""

from __future__ import annotations

from email.utils import parseaddr

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction

from mailboxes.outbox.enqueue import SendRefused, email_enqueue
from transactional.api.constants import SendResult
from transactional.api.contacts import contact_for, fields_of
from transactional.api.errors import invalid
from transactional.api.models import SingleSend
from transactional.api.schemas import SendIn
from transactional.credentials.models import Credential
from transactional.emails import render, sending
from transactional.emails.models import EmailState, TransactionalEmail
from transactional.pool import transport
from transactional.pool.models import SendingPool

# GUIDE-TX: role local parts HubSpot refuses as INVALID_TO_ADDRESS.
ROLE_PARTS = frozenset(
    "abuse noreply no-reply root spam security postmaster privacy unsubscribe inoc "
    "undisclosed-recipients".split()
)


def _address(value: str, where: str, *, role_ok: bool = True) -> str:
    address = (value or "").strip().lower()
    try:
        validate_email(address)
    except ValidationError:
        raise invalid(
            f"{value!r} is not a valid email address.", "INVALID_TO_ADDRESS", where
        ) from None
    if not role_ok and address.partition("@")[0] in ROLE_PARTS:
        raise invalid(
            f"{value!r} is a role address, which transactional email is not sent to.",
            "INVALID_TO_ADDRESS",
            where,
        )
    return address


def _from(value: str | None, pool: SendingPool) -> tuple[str, str]:
    """(name, address) of `message.from`; its domain must be the sending pool's."""
    if not value:
        return "", ""
    name, address = parseaddr(value)
    try:
        validate_email(address)
    except ValidationError:
        raise invalid(
            f"{value!r} is not a valid From.", "INVALID_FROM_ADDRESS", "message.from"
        ) from None
    if sending.domain_of(address) != sending.domain_of(pool.from_address):
        raise invalid(
            f"The From domain must be the sending pool's ({sending.domain_of(pool.from_address)}).",
            "INVALID_FROM_ADDRESS",
            "message.from",
        )
    return name, address


def _email(email_id: int) -> TransactionalEmail:
    email = TransactionalEmail.objects.filter(pk=email_id).first()
    if email is None:
        raise invalid(f"No transactional email has id {email_id}.", "MISSING_CONTENT", "emailId")
    if email.state != EmailState.PUBLISHED:
        raise invalid(
            f"Transactional email {email_id} is not published for the API: publish it first.",
            "MISSING_CONTENT",
            "emailId",
        )
    return email


def single_send(credential: Credential, data: SendIn) -> SingleSend:
    """The SingleSend of this request: new, or the first one of a repeated sendId."""
    message = data.message
    send_id = (message.sendId or "").strip()
    if send_id:
        first = SingleSend.objects.filter(send_id=send_id).first()
        if first is not None:
            return first
    email = _email(data.emailId)
    pool = SendingPool.load()
    to = _address(message.to, "message.to", role_ok=False)
    copies = {
        name: [_address(a, f"message.{name}") for a in getattr(message, name)]
        for name in ("cc", "bcc", "replyTo")
    }
    from_name, from_address = _from(message.from_, pool)
    fields = fields_of(data.contactProperties)
    needed = render.custom_names(email.subject, email.body)
    lacking = [n for n in needed if data.customProperties.get(n) is None]
    if lacking:
        raise invalid(
            "The email needs these customProperties: " + ", ".join(lacking),
            "MISSING_TEMPLATE_PROPERTIES",
            "customProperties",
        )
    try:
        with transaction.atomic():
            row = SingleSend.objects.create(
                send_id=send_id, email=email, credential=credential, to_address=to
            )
            _queue(row, email, pool, data, fields, copies, from_name, from_address)
    except IntegrityError:
        # Another request with the same sendId won: answer its send.
        first = SingleSend.objects.filter(send_id=send_id).first() if send_id else None
        if first is None:
            raise
        return first
    return row


def _queue(row, email, pool, data, fields, copies, from_name, from_address) -> None:
    why = transport.unavailable(pool)
    if why:
        _refused(row, SendResult.EMAIL_DISABLED, why)
        return
    contact = contact_for(row.to_address, fields)
    row.contact = contact
    if transport.bounced([row.to_address]):
        _refused(row, SendResult.PREVIOUSLY_BOUNCED, f"{row.to_address} bounced hard before.")
        return
    rendered = render.render(
        email.subject, email.body, contact, data.customProperties, blank_contact=True
    )
    outgoing = sending.outgoing(
        email,
        rendered,
        pool,
        to=row.to_address,
        contact=contact,
        source_id=row.credential_id,
        from_name=from_name,
        from_address=from_address,
        reply_to=copies["replyTo"],
        cc=copies["cc"],
        bcc=copies["bcc"],
    )
    try:
        queued = email_enqueue(outgoing)
    except SendRefused as refused:
        # A Cc or Bcc bounced hard: the transport's words say which.
        _refused(row, SendResult.PREVIOUSLY_BOUNCED, " ".join(refused.refusals))
        return
    row.outbound = queued.outbound
    row.save(update_fields=["contact", "outbound"])


def _refused(row: SingleSend, result: str, words: str) -> None:
    row.send_result, row.message = result, words
    row.save(update_fields=["contact", "send_result", "message"])
