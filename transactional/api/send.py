"""One single-send request, answered at once: checked whole (a bad key, an unknown or
unpublished email, a bad address or From, an unknown contact property, missing custom
properties each refuse it, nothing written), then one INSERT of the SingleSend row (its
sendId unique: a repeat answers the first send) whose job, on the "transactional" queue,
makes it into an email (process.py). No rendering: the send is asynchronous, as HubSpot's is
(PENDING, then the pool's states).

The common request costs one round trip (bench/single_send_api.py): one statement that
checks the key's row (live, its hash), the email's (published, unchanged since this process
last read it) and inserts the row, in autocommit, `ON CONFLICT (send_id) DO NOTHING`; its job
goes to Redis from the process's background thread with the other requests' of the last few
milliseconds, in one LPUSH (`jobs.later_batched`). What the statement needs from the email (the
custom properties it asks for) is kept per process with its `updated_at`, compared in the
statement, so an edit or an unpublish counts at once. Anything else (a first request of a key
or an email in this process, a bad key, a repeated sendId, any refusal) takes the careful
path: the key checked, then the email read, and so on as each answer needs. A process that
dies between the INSERT and the push leaves a pending row: `process.process_due` takes it.
The common request is answered by `fast.py`, in front of django-ninja's operation."""

from __future__ import annotations

import uuid
from email.utils import parseaddr

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import (
    DEFAULT_DB_ALIAS,
    IntegrityError,
    InterfaceError,
    OperationalError,
    connections,
    transaction,
)
from django.utils import timezone

from mailboxes import jobs
from records.db import fetchone
from transactional.api import status
from transactional.api.auth import KeyClaim, grants
from transactional.api.contacts import fields_of
from transactional.api.errors import ApiError, invalid
from transactional.api.models import SingleSend
from transactional.api.schemas import SendIn
from transactional.credentials.auth import api_key_digests, mark_used_by_id
from transactional.credentials.constants import CredentialKind
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


# Email id -> (updated_at, the custom properties it asks for) of a published email, as this
# process last read it; the statement compares updated_at.
_published: dict[int, tuple] = {}


def _email(email_id: int) -> TransactionalEmail:
    email = (
        TransactionalEmail.objects.filter(pk=email_id)
        .only("state", "subject", "body", "updated_at")
        .first()
    )
    if email is None:
        raise invalid(f"No transactional email has id {email_id}.", "MISSING_CONTENT", "emailId")
    if email.state != EmailState.PUBLISHED:
        raise invalid(
            f"Transactional email {email_id} is not published for the API: publish it first.",
            "MISSING_CONTENT",
            "emailId",
        )
    if len(_published) > 1_000:
        _published.clear()
    _published[email.pk] = (email.updated_at, render.custom_names(email.subject, email.body))
    return email


def single_send(claim: KeyClaim, data: SendIn) -> dict:
    """The answer (status.py) of this request: its new send, PENDING, or the first one of a
    repeated sendId."""
    return written_at_once(claim, data) or status.view(_single_send(claim.check(), data))


def _asked(data: SendIn, custom_names: list[str]) -> dict:
    """The fields of the new row the request asks for, or its refusal."""
    message = data.message
    to = _address(message.to, "message.to", role_ok=False)
    copies = {
        name: [_address(a, f"message.{name}") for a in getattr(message, name)]
        for name in ("cc", "bcc", "replyTo")
    }
    from_name, from_address = _from(message.from_)
    fields = fields_of(data.contactProperties)
    lacking = [n for n in custom_names if data.customProperties.get(n) is None]
    if lacking:
        raise invalid(
            "The email needs these customProperties: " + ", ".join(lacking),
            "MISSING_TEMPLATE_PROPERTIES",
            "customProperties",
        )
    return {
        "send_id": (message.sendId or "").strip(),
        "to_address": to,
        "request": {
            **copies,
            "fromName": from_name,
            "fromAddress": from_address,
            "contact": fields,
            "custom": data.customProperties,
        },
    }


def _single_send(credential: Credential, data: SendIn) -> SingleSend:
    """The careful path: each check its own query, in the order the answers need."""
    send_id = (data.message.sendId or "").strip()
    if send_id:
        first = SingleSend.objects.filter(send_id=send_id).first()
        if first is not None:
            return first
    email = _email(data.emailId)
    row = SingleSend(**_asked(data, _published[email.pk][1]), email=email, credential=credential)
    try:
        with transaction.atomic():
            row.save(force_insert=True)
            jobs.later_batched(jobs.SINGLE_SEND, row.pk)
    except IntegrityError:
        # Another request with the same sendId won: answer its send.
        first = SingleSend.objects.filter(send_id=send_id).first() if send_id else None
        if first is None:
            raise
        return first
    return row


def written_at_once(claim: KeyClaim, data: SendIn) -> dict | None:
    """The common request in one statement, or None for the careful path to answer."""
    key = api_key_digests(claim.header_value)
    known = _published.get(data.emailId)
    if key is None or known is None or not grants(key[0], claim.scope):
        return None
    updated_at, custom_names = known
    try:
        values = _asked(data, custom_names)
    except ApiError:
        return None  # refused: the careful path checks the key first
    # What the model's defaults would be.
    values |= {"status_id": uuid.uuid4(), "requested_at": timezone.now()}
    written = _insert(values, *key, data.emailId, updated_at)
    if written is None:
        return None
    pk, credential_id = written
    mark_used_by_id(credential_id)
    jobs.later_batched(jobs.SINGLE_SEND, pk)
    return status.pending(values["status_id"], values["requested_at"])


def _insert(values: dict, lookup_id: str, digests: list[str], email_id: int, updated_at):
    """INSERT a row of `values` (the rest the model's defaults) if the key is live with one
    of `digests` and the email published and unchanged since `updated_at`, and no send has
    its sendId: (id, key id), or None (and None when the connection turns out dead: closed,
    for the careful path to connect again)."""
    db = connections[DEFAULT_DB_ALIAS]  # once: each use of the proxy costs a lookup
    sql, given = _insert_sql(db, len(digests))
    keys, email = Credential._meta, TransactionalEmail._meta
    params = [
        *(
            field.get_db_prep_save(values[field.attname], db) if asked else default
            for field, asked, default in given
        ),
        lookup_id,
        CredentialKind.API_KEY.value,
        keys.get_field("expires_at").get_db_prep_value(values["requested_at"], db),
        *digests,
        email_id,
        EmailState.PUBLISHED.value,
        email.get_field("updated_at").get_db_prep_value(updated_at, db),
    ]
    alone = db.connection is not None and not db.in_atomic_block
    if alone:
        # This statement is the persistent connection's health check (CONN_HEALTH_CHECKS):
        # Django's SELECT 1 before it would cost a round trip on every request. A
        # connection found dead is closed below and the careful path connects again.
        db.health_check_done = True
    try:
        found = fetchone(sql, params)
    except (OperationalError, InterfaceError):
        if not alone or db.is_usable():
            raise
        db.close()
        return None
    return tuple(found) if found else None


# The fields `written_at_once` gives; the others take their defaults.
_VALUES = frozenset({"status_id", "send_id", "to_address", "requested_at", "request"})
_sql: dict[tuple[str, int], tuple[str, list]] = {}


def _insert_sql(db, digests: int) -> tuple[str, list]:
    """The statement of `_insert` for this database and number of hashes, and the fields its
    first parameters fill. Portable (PostgreSQL and SQLite): INSERT … SELECT … ON CONFLICT …
    RETURNING. Made once."""
    key = (db.vendor, digests)
    if key in _sql:
        return _sql[key]
    quote = db.ops.quote_name
    sends, keys, emails = SingleSend._meta, Credential._meta, TransactionalEmail._meta

    def column(meta, name: str) -> str:
        return quote(meta.get_field(name).column)

    fields = [
        f
        for f in sends.concrete_fields
        if not f.primary_key and f.attname not in ("email_id", "credential_id")
    ]
    # Each field: given, or its default made ready for the database once.
    blank = SingleSend()
    given = [
        (f, f.attname in _VALUES, f.get_db_prep_save(getattr(blank, f.attname), db)) for f in fields
    ]
    send_id = column(sends, "send_id")
    sql = (
        f"INSERT INTO {quote(sends.db_table)} "
        f"({', '.join(quote(f.column) for f in fields)}, "
        f"{column(sends, 'email')}, {column(sends, 'credential')}) "
        f"SELECT {', '.join(['%s'] * len(fields))}, e.{column(emails, 'id')}, "
        f"k.{column(keys, 'id')} "
        f"FROM {quote(keys.db_table)} k, {quote(emails.db_table)} e "
        f"WHERE k.{column(keys, 'lookup_id')} = %s AND k.{column(keys, 'kind')} = %s "
        # Credential.objects.live(), as SQL (tests/transactional/test_single_send_fast.py
        # holds the two to the same rows): neither revoked nor expired.
        f"AND k.{column(keys, 'revoked_at')} IS NULL "
        f"AND (k.{column(keys, 'expires_at')} IS NULL OR k.{column(keys, 'expires_at')} > %s) "
        f"AND k.{column(keys, 'secret_hash')} IN ({', '.join(['%s'] * digests)}) "
        f"AND e.{column(emails, 'id')} = %s AND e.{column(emails, 'state')} = %s "
        f"AND e.{column(emails, 'updated_at')} = %s "
        # The partial unique index single_send_send_id_unique, as the model declares it.
        f"ON CONFLICT ({send_id}) WHERE NOT ({send_id} = '') DO NOTHING "
        f"RETURNING {column(sends, 'id')}, {column(sends, 'credential')}"
    )
    _sql[key] = sql, given
    return _sql[key]
