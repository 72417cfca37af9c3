"""One single-send request, answered at once: checked whole (an unknown or unpublished
email, a bad address or From, an unknown contact property, missing custom properties each
refuse it, nothing written), then one INSERT of the SingleSend row (its sendId unique: a
repeat answers the first send) whose job, on the "transactional" queue, makes it into an
email (process.py). So a request costs a few queries and no rendering: the send is
asynchronous, as HubSpot's is (PENDING, then the pool's states)."""

from __future__ import annotations

from email.utils import parseaddr

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction

from mailboxes import jobs
from transactional.api.contacts import fields_of
from transactional.api.errors import invalid
from transactional.api.models import SingleSend
from transactional.api.schemas import SendIn
from transactional.credentials.models import Credential
from transactional.emails import render, sending
from transactional.emails.models import EmailState, TransactionalEmail
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


def _from(value: str | None) -> tuple[str, str]:
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
    pool_domain = sending.domain_of(SendingPool.load().from_address)
    if sending.domain_of(address) != pool_domain:
        raise invalid(
            f"The From domain must be the sending pool's ({pool_domain}).",
            "INVALID_FROM_ADDRESS",
            "message.from",
        )
    return name, address


def _email(email_id: int) -> TransactionalEmail:
    email = TransactionalEmail.objects.filter(pk=email_id).only("state", "subject", "body").first()
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
    """The SingleSend of this request: new (PENDING), or the first one of a repeated
    sendId."""
    message = data.message
    send_id = (message.sendId or "").strip()
    if send_id:
        first = SingleSend.objects.filter(send_id=send_id).first()
        if first is not None:
            return first
    email = _email(data.emailId)
    to = _address(message.to, "message.to", role_ok=False)
    copies = {
        name: [_address(a, f"message.{name}") for a in getattr(message, name)]
        for name in ("cc", "bcc", "replyTo")
    }
    from_name, from_address = _from(message.from_)
    fields = fields_of(data.contactProperties)
    lacking = [
        n
        for n in render.custom_names(email.subject, email.body)
        if data.customProperties.get(n) is None
    ]
    if lacking:
        raise invalid(
            "The email needs these customProperties: " + ", ".join(lacking),
            "MISSING_TEMPLATE_PROPERTIES",
            "customProperties",
        )
    row = SingleSend(
        send_id=send_id,
        email=email,
        credential=credential,
        to_address=to,
        request={
            **copies,
            "fromName": from_name,
            "fromAddress": from_address,
            "contact": fields,
            "custom": data.customProperties,
        },
    )
    try:
        with transaction.atomic():
            row.save(force_insert=True)
            jobs.later(jobs.SINGLE_SEND, row.pk)
    except IntegrityError:
        # Another request with the same sendId won: answer its send.
        first = SingleSend.objects.filter(send_id=send_id).first() if send_id else None
        if first is None:
            raise
        return first
    return row
