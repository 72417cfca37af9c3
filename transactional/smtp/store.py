"""An accepted message, queued: called by the server after DATA (in a thread: it is blocking
database work), it answers the SMTP reply. The 250 is only ever the answer to a committed
transaction, so a message the client was told is taken is in the outbox.

What is decided here: a message that is not RFC 5322 at all (empty, a binary file) gets a 554;
anything else is accepted and sent as the client wrote it (mime/submitted.py says what the
outbox changes), however broken its MIME: the relay gets the client's bytes, not a repair.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import close_old_connections, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from mailboxes.constants import SendSource
from mailboxes.mime import parsing, submitted
from mailboxes.outbox.enqueue import OutgoingEmail, SendRefused, Source, email_enqueue
from privacy.constants import SenderContext
from records import selectors
from records.models import Contact
from records.services import contacts_for_addresses
from transactional.credentials.constants import CredentialKind
from transactional.credentials.models import Credential
from transactional.smtp import limits

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Submission:
    credential_id: int
    # The token's hash when the client logged in: a reset or a delete since refuses.
    secret_hash: str
    mail_from: str
    recipients: list[str]
    raw: bytes


def store(submission: Submission) -> str:
    """Queue the message through the outbox; the reply for the client."""
    close_old_connections()  # a long-lived server: a dropped connection is opened again
    if not parsing.looks_like_message(submission.raw):
        return _("554 5.6.0 Not an email message (RFC 5322): nothing was sent")
    credential = (
        Credential.objects.live()
        .filter(pk=submission.credential_id, kind=CredentialKind.SMTP_TOKEN)
        .first()
    )
    if credential is None or credential.secret_hash != submission.secret_hash:
        return _("535 5.7.8 This token was deleted or its password reset: log in again")
    over = limits.over_rate(credential.pk, timezone.now())
    if over:
        return over
    try:
        message = _queue(credential, submission)
    except SendRefused as refused:
        return "550 5.7.1 " + " ".join(refused.refusals)
    return f"250 2.0.0 Ok: queued as {message.message_id}"


@transaction.atomic
def _queue(credential: Credential, submission: Submission):
    headers = parsing.parse_headers(submission.raw)
    recipients = list(dict.fromkeys(a.strip().lower() for a in submission.recipients))
    to = [a for a in recipients if a in headers.to]
    cc = [a for a in recipients if a in headers.cc and a not in to]
    # Envelope recipients the headers do not name are the Bcc ones.
    bcc = [a for a in recipients if a not in to and a not in cc]
    html = submitted.html_of(submission.raw)
    email = OutgoingEmail(
        mailbox=None,
        from_address=_text(headers.from_addr or submission.mail_from)[:254],
        from_name=_text(headers.from_name)[:200],
        subject=_text(headers.subject)[:998],
        html=html or "",
        to=to,
        cc=cc,
        bcc=bcc,
        privacy_context=SenderContext.TRANSACTIONAL,
        source=Source(SendSource.TRANSACTIONAL, id=credential.pk),
        contacts=_contacts(credential, recipients),
        track=html is not None,
        raw=submission.raw,
    )
    email.log = bool(email.contacts)
    return email_enqueue(email)


def _text(value: str) -> str:
    """A header's text as the database takes it: raw 8-bit bytes the parser kept as
    surrogates (a non-UTF-8 header without encoded-words) become replacement characters."""
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _contacts(credential: Credential, recipients: list[str]) -> list[Contact]:
    """The recipients' contacts, made for those who have none when the token says so."""
    if credential.create_contacts:
        ids = contacts_for_addresses(
            {a: ("", "") for a in recipients}, owner_id=credential.created_by_id
        )
    else:
        ids = selectors.contacts_by_address(recipients)
    return list(Contact.objects.filter(pk__in=set(ids.values())))
