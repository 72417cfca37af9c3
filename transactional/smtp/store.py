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
from mailboxes.outbox.enqueue import OutgoingEmail, SendRefused, Source, email_enqueue_many
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
    return store_many([submission])[0]


def store_many(submissions: list[Submission]) -> list[str]:
    """Queue messages that arrived together in one transaction (a group commit: the
    server hands over whatever DATA finished meanwhile); each one's reply, in order. Should the
    batch fail, each message is tried on its own, so one bad message holds up only itself."""
    close_old_connections()  # a long-lived server: a dropped connection is opened again
    replies: list[str | None] = [None] * len(submissions)
    live = {
        c.pk: c
        for c in Credential.objects.live().filter(
            pk__in={s.credential_id for s in submissions}, kind=CredentialKind.SMTP_TOKEN
        )
    }
    now = timezone.now()
    todo: list[tuple[int, Credential]] = []
    for i, submission in enumerate(submissions):
        credential = live.get(submission.credential_id)
        if not parsing.looks_like_message(submission.raw):
            replies[i] = _("554 5.6.0 Not an email message (RFC 5322): nothing was sent")
        elif credential is None or credential.secret_hash != submission.secret_hash:
            replies[i] = _("535 5.7.8 This token was deleted or its password reset: log in again")
        else:
            replies[i] = limits.over_rate(credential, now) or None
            if replies[i] is None:
                todo.append((i, credential))
    try:
        answers = _queue([(c, submissions[i]) for i, c in todo])
    except Exception:
        if len(todo) < 2:
            raise
        log.warning("SMTP API: a batch of %s failed; storing them one by one", len(todo))
        answers = [_queue([(c, submissions[i])])[0] for i, c in todo]
    for (i, _credential), answer in zip(todo, answers, strict=True):
        replies[i] = answer
    return replies


@transaction.atomic
def _queue(items: list[tuple[Credential, Submission]]) -> list[str]:
    recipients = {a.strip().lower() for _c, s in items for a in s.recipients}
    make = {a for c, s in items if c.create_contacts for a in s.recipients}
    contacts = _contacts(recipients, {a.strip().lower() for a in make}, items)
    emails = [_email(c, s, contacts) for c, s in items]
    replies = []
    for queued in email_enqueue_many(emails) if emails else []:
        if isinstance(queued, SendRefused):
            replies.append("550 5.7.1 " + " ".join(queued.refusals))
        else:
            replies.append(f"250 2.0.0 Ok: queued as {queued.message_id}")
    return replies


def _email(credential: Credential, submission: Submission, contacts) -> OutgoingEmail:
    headers = parsing.parse_headers(submission.raw)
    recipients = list(dict.fromkeys(a.strip().lower() for a in submission.recipients))
    to = [a for a in recipients if a in headers.to]
    cc = [a for a in recipients if a in headers.cc and a not in to]
    # Envelope recipients the headers do not name are the Bcc ones.
    bcc = [a for a in recipients if a not in to and a not in cc]
    tree = submitted.parse(submission.raw)
    html = submitted.html_of(submission.raw, tree) if tree is not None else None
    mine = [contacts[a] for a in recipients if a in contacts]
    return OutgoingEmail(
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
        contacts=list({c.pk: c for c in mine}.values()),
        track=html is not None,
        log=bool(mine),
        raw=submission.raw,
        raw_tree=tree,
    )


def _text(value: str) -> str:
    """A header's text as the database takes it: raw 8-bit bytes the parser kept as
    surrogates (a non-UTF-8 header without encoded-words) become replacement characters."""
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _contacts(recipients: set[str], make: set[str], items) -> dict[str, Contact]:
    """The recipients' contacts by address, made for those of `make` who have none (their
    token creates contacts), owned by the token's creator."""
    owners = selectors.contacts_by_address(recipients)
    missing = make - owners.keys()
    for credential, submission in items:
        wanted = {a.strip().lower() for a in submission.recipients} & missing
        if credential.create_contacts and wanted:
            made = contacts_for_addresses({a: ("", "") for a in wanted}, credential.created_by_id)
            owners |= made
            missing -= made.keys()
    by_id = Contact.objects.in_bulk(set(owners.values()))
    return {a: by_id[pk] for a, pk in owners.items() if pk in by_id}
