"""The one way any feature queues an email: `email_enqueue`.

The composer, sequences and transactional email all hand it a rendered message, the inbox it
goes out from (none for transactional email: the transport its source registered sends it,
transports.py), its recipients, the records to log it on, the privacy context and its source
(what sent it). In one transaction it runs the privacy check for every recipient who is a
contact, writes the timeline activity (records.timeline; none for an email not to be logged,
`OutgoingEmail.log`), the message with its final Message-ID, HTML and text parts and tracking,
and the queue row; the send task is queued on commit. Nothing is sent here: a worker sends it
(`sending.py`), re-checking privacy then.

Validation of what a person typed (addresses, the From menu, sizes) belongs to the caller;
this checks what no caller may skip: the privacy check of every contact.
"""

import re
from dataclasses import dataclass, field
from datetime import datetime
from email.message import Message
from email.utils import format_datetime, formataddr, make_msgid

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from mailboxes import jobs
from mailboxes.constants import EMAIL_ACTIVITY, Direction, SendSource, SendStatus
from mailboxes.mime import outgoing, sanitize, submitted
from mailboxes.mime.outgoing import Attachment
from mailboxes.models import EmailMessage, EmailThread, Mailbox, Outbound, OutboundAttachment
from mailboxes.outbox import transports
from mailboxes.sync.bodies import fill_body
from mailboxes.tracking.links import Instrumented, instrument_many, link_urls
from privacy.constants import SenderContext
from privacy.links import list_unsubscribe_headers
from privacy.services import SendRequest, authorize_send_many
from records import timeline
from records.bulk import create_rows, insert_rows, update_rows
from records.models import Contact, Record, User

# The most emails of a batch one send job carries: a job sends its emails one after another,
# so smaller jobs let the send workers share a large batch.
SEND_JOB_SIZE = 20


class SendRefused(ValidationError):
    """The privacy check refused one or more recipients; `refusals` says why, one per
    contact, in words for the sender. Nothing was written."""

    def __init__(self, refusals: list[str]):
        super().__init__(refusals)
        self.refusals = refusals


@dataclass(frozen=True)
class Source:
    """What queued an email: one-to-one (no id), a sequence step, a transactional token or
    API key (its id). `template_id` names the template the body was written from."""

    kind: str = SendSource.ONE_TO_ONE
    id: int | None = None
    template_id: int | None = None


@dataclass
class OutgoingEmail:
    """A rendered email, ready to queue. `html` is sanitized again here whatever the caller
    did; the text part is derived from it. `mailbox` None: it goes out through the transport
    registered for its source (transports.py), never through a user's inbox."""

    mailbox: Mailbox | None
    from_address: str
    from_name: str
    subject: str
    html: str
    to: list[str]
    privacy_context: str
    source: Source
    sender: User | None = None  # the user it is sent for (None: the system)
    cc: list[str] = field(default_factory=list)
    bcc: list[str] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    contacts: list[Contact] = field(default_factory=list)  # recipients who are contacts
    records: list[Record] = field(default_factory=list)  # logged on these and the contacts
    thread: EmailThread | None = None  # None: a new thread
    reply_to: EmailMessage | None = None
    # The email whose content this one quotes or forwards (default: `reply_to`): its links are
    # never tracked, wherever they sit in `html` (tracking/links.py says why).
    quoted: EmailMessage | None = None
    one_time_basis: int | None = None
    track: bool = True
    # False: sent as any other, but put on no timeline (no activity); the sender's Email home
    # still lists it, as "not logged".
    log: bool = True
    scheduled_at: datetime | None = None
    timeline_title: str = ""
    # The Reply-To header (transactional email's replyTo); empty: none.
    reply_to_addresses: list[str] = field(default_factory=list)
    # The client's own MIME (the SMTP API), sent as written but for the changes of
    # mime/submitted.py; `html` is its first HTML part, tracked there as written (only the
    # stored copy is sanitized), and its attachments are in it.
    raw: bytes | None = None
    # `raw` as the caller parsed it (mime/submitted.parse), so it is parsed once: changed when
    # the tracked HTML is put back.
    raw_tree: Message | None = None


def email_enqueue(email: OutgoingEmail) -> EmailMessage:
    """Privacy-check, log and queue an email; return its message row.

    Raises SendRefused (nothing written) when the privacy check refuses any contact.
    """
    [queued] = email_enqueue_many([email])
    if isinstance(queued, SendRefused):
        raise queued
    return queued


@dataclass
class _Prepared:
    """What an email's rows are built from, worked out before the transaction."""

    email: OutgoingEmail
    message_id: str
    html: str
    text: str
    references: list[str]


def email_enqueue_many(emails: list[OutgoingEmail]) -> list[EmailMessage | SendRefused]:
    """`email_enqueue` for many emails in one transaction, in a constant number of queries
    (an email with a one-time basis adds its own: its basis is locked). Return, in order,
    each email's message row or the SendRefused of an email the privacy check refused (nothing
    of that one is written)."""
    prepared = [_prepare(email) for email in emails]
    refused = _check_transports(prepared)
    with transaction.atomic():
        refused.update(_check_privacy(prepared, skip=refused))
        ok = [p for i, p in enumerate(prepared) if i not in refused]
        messages = iter(_write(ok))
    return [refused[i] if i in refused else next(messages) for i in range(len(prepared))]


_MSGID_DOMAIN = re.compile(r"[A-Za-z0-9.-]{1,253}")


def _prepare(email: OutgoingEmail) -> _Prepared:
    domain = email.from_address.rsplit("@", 1)[-1]
    if not _MSGID_DOMAIN.fullmatch(domain):
        domain = "crm.invalid"  # a Message-ID is ASCII: an odd From domain (ä, spaces) is not
    html = sanitize.sanitize_html(email.html or "")
    text = sanitize.html_to_text(html)
    message_id = make_msgid(domain=domain)
    return _Prepared(email, message_id, html, text, _references(email.reply_to))


def _write(prepared: list[_Prepared]) -> list[EmailMessage]:
    """Write the rows of emails the privacy check allowed: a few INSERTs for them all."""
    if not prepared:
        return []
    now = timezone.now()
    scheduled = [p.email.scheduled_at is not None and p.email.scheduled_at > now for p in prepared]
    logged = [(p, later) for p, later in zip(prepared, scheduled, strict=True) if p.email.log]
    activity_ids = iter(
        timeline.log_many(
            EMAIL_ACTIVITY,
            [
                timeline.Entry(
                    [*p.email.records, *p.email.contacts],
                    p.email.scheduled_at if later else now,
                    p.email.sender.pk if p.email.sender else None,
                    {"title": p.email.timeline_title},
                )
                for p, later in logged
            ],
            now=now,
        )
    )
    new_threads = iter(
        create_rows(
            [
                EmailThread(subject=p.email.subject[:500])
                for p in prepared
                if p.email.thread is None
            ],
            now,
        )
    )
    messages = create_rows(
        [
            _message(
                p, p.email.thread or next(new_threads), next(activity_ids) if p.email.log else None
            )
            for p in prepared
        ],
        now,
    )
    pairs = [
        (m.pk, pk)
        for p, m in zip(prepared, messages, strict=True)
        for pk in dict.fromkeys(c.pk for c in p.email.contacts)
    ]
    if pairs:
        insert_rows(
            EmailMessage.contacts.through,
            {"emailmessage_id": [m for m, _ in pairs], "contact_id": [c for _, c in pairs]},
            now,
            keys=False,
        )
    tracked = iter(
        instrument_many(
            [
                Instrumented(
                    p.html if p.email.raw is None else p.email.html,
                    m,
                    p.email.source,
                    _quoted_links(p.email),
                )
                for p, m in zip(prepared, messages, strict=True)
                if p.email.track
            ]
        )
    )
    for p, message in zip(prepared, messages, strict=True):
        email = p.email
        unsubscribe = {}
        if email.privacy_context not in _NO_UNSUBSCRIBE and len(email.contacts) == 1:
            unsubscribe = list_unsubscribe_headers(email.contacts[0], email.privacy_context)
        html = next(tracked) if email.track else p.html
        if email.raw is not None:
            tracked_html = html if email.track and email.html else None
            message.raw = submitted.rewritten(email.raw, p.message_id, tracked_html, email.raw_tree)
        else:
            message.raw = _mime(email, p.message_id, p.references, html, p.text, unsubscribe)
        message.size = len(message.raw)
    update_rows(messages, ["raw", "size"])
    # The envelope From of a transport's email: asked once per source for the batch.
    transport_from = {
        kind: transports.for_source(kind).envelope_from()
        for kind in {p.email.source.kind for p in prepared if p.email.mailbox is None}
    }
    outbounds = create_rows(
        [
            _outbound(
                p.email,
                m,
                later,
                now,
                p.email.mailbox.email if p.email.mailbox else transport_from[p.email.source.kind],
            )
            for p, m, later in zip(prepared, messages, scheduled, strict=True)
        ],
        now,
    )
    OutboundAttachment.objects.bulk_create(
        [
            OutboundAttachment(
                outbound=outbound,
                filename=a.filename,
                content_type=a.content_type,
                size=len(a.data),
                content_id=a.content_id,
                data=a.data,
            )
            for p, outbound in zip(prepared, outbounds, strict=True)
            for a in p.email.attachments
        ]
    )
    # A scheduled email waits for the periodic pass (send_due) that finds it due. The others go
    # SEND_JOB_SIZE to a job (one job an email cost the tick a tenth of its time; a transport's
    # worker sends a job's emails over one relay session), email of a transport to its own job
    # on its own queue.
    by_job: dict[str, list[int]] = {}
    for p, o, later in zip(prepared, outbounds, scheduled, strict=True):
        if not later:
            by_job.setdefault(_job(p.email), []).append(o.pk)
    for job, ids in by_job.items():
        step = SEND_JOB_SIZE
        jobs.later_many(job, [tuple(ids[i : i + step]) for i in range(0, len(ids), step)])
    _tell_transports(prepared, outbounds)
    return messages


def _tell_transports(prepared: list[_Prepared], outbounds: list[Outbound]) -> None:
    """Give each transport with a `queued` hook the ids of its rows (transports.py)."""
    by_source: dict[str, list[int]] = {}
    for p, o in zip(prepared, outbounds, strict=True):
        if p.email.mailbox is None:
            by_source.setdefault(p.email.source.kind, []).append(o.pk)
    for kind, ids in by_source.items():
        hook = transports.for_source(kind).queued
        if hook is not None:
            hook(ids)


def _job(email: OutgoingEmail) -> str:
    if email.mailbox is None:
        return transports.for_source(email.source.kind).job
    return jobs.SEND_OUTBOUND


def _from_name_supported(email: OutgoingEmail) -> bool:
    # A relay sends the From header as written; some inboxes' providers replace it.
    return email.mailbox is None or email.mailbox.from_name_supported


def _message(p: _Prepared, thread: EmailThread, activity_id: int | None) -> EmailMessage:
    email = p.email
    return EmailMessage(
        mailbox=email.mailbox,
        message_id=p.message_id,
        in_reply_to=email.reply_to.message_id if email.reply_to else "",
        references=" ".join(p.references),
        thread=thread,
        direction=Direction.OUTGOING,
        from_addr=email.from_address,
        from_name=email.from_name if _from_name_supported(email) else "",
        to_addrs=email.to,
        cc_addrs=email.cc,
        subject=email.subject,
        sent_at=None,
        text_body=p.text,
        html_body=p.html,
        snippet=sanitize.snippet(p.text, 200),
        has_attachments=any(not a.content_id for a in email.attachments),
        body_parsed=True,
        activity_id=activity_id,
    )


def _outbound(
    email: OutgoingEmail, message: EmailMessage, later: bool, now, envelope_from: str
) -> Outbound:
    return Outbound(
        message=message,
        mailbox=email.mailbox,
        sender=email.sender,
        envelope_from=envelope_from,
        recipients=email.to + email.cc + email.bcc,
        bcc_addrs=email.bcc,
        status=SendStatus.SCHEDULED if later else SendStatus.QUEUED,
        scheduled_at=email.scheduled_at if later else None,
        next_attempt_at=email.scheduled_at if later else now,
        privacy_context=email.privacy_context,
        one_time_basis_id=email.one_time_basis,
        contact_ids=[c.pk for c in email.contacts],
        track=email.track,
        source=email.source.kind,
        source_id=email.source.id,
        template_id=email.source.template_id,
    )


def _references(parent: EmailMessage | None) -> list[str]:
    """The References of a reply (RFC 5322 3.6.4): the parent's References, or else its
    In-Reply-To, then the parent's own id; each id once, in order. A new email has none."""
    if parent is None:
        return []
    trail = parent.references.split() or parent.in_reply_to.split()[:1]
    return [i for i in dict.fromkeys([*trail, parent.message_id]) if i]


def _quoted_links(email: OutgoingEmail) -> frozenset[str]:
    """The URLs of the links of the email being quoted or forwarded, read from its stored row."""
    quoted = email.quoted or email.reply_to
    if quoted is None:
        return frozenset()
    if not quoted.body_parsed:
        fill_body(quoted)
    return link_urls(quoted.html_body)


# Ticket replies and transactional email carry no unsubscribe link; sequence
# email and one-to-one email to a single contact do.
_NO_UNSUBSCRIBE = frozenset({SenderContext.TICKET_REPLY, SenderContext.TRANSACTIONAL})


def _check_transports(prepared: list[_Prepared]) -> dict[int, SendRefused]:
    """The refusal of each email whose source's transport turns it away now (transports.py),
    by its index: the add-on is off, a recipient hard-bounced."""
    own_transport = transports.sources()
    by_source: dict[str, list[int]] = {}
    for i, p in enumerate(prepared):
        kind = p.email.source.kind
        if p.email.mailbox is None:
            by_source.setdefault(kind, []).append(i)
        elif kind in own_transport:
            # Transactional email never goes out through a user's inbox.
            raise ValueError(f"{kind} email goes out through its transport, not an inbox")
    refused = {}
    for kind, indexes in by_source.items():
        emails = [prepared[i].email for i in indexes]
        for i, words in zip(indexes, transports.for_source(kind).refusals(emails), strict=True):
            if words:
                refused[i] = SendRefused([words])
    return refused


def _check_privacy(prepared: list[_Prepared], skip=()) -> dict[int, SendRefused]:
    """Check every contact of every email (privacy.services.authorize_send_many); return the
    refusal of each email refused, by its index. A refused email leaves no trace: its audit
    rows are rolled back (as one email's whole transaction is), the others' decided again."""
    requests = [
        (
            i,
            SendRequest(
                c, p.email.privacy_context, p.email.sender, p.message_id, p.email.one_time_basis
            ),
        )
        for i, p in enumerate(prepared)
        if i not in skip
        for c in p.email.contacts
    ]
    savepoint = transaction.savepoint()
    decisions = authorize_send_many([r for _, r in requests])
    refusals: dict[int, list[str]] = {}
    for (i, r), decision in zip(requests, decisions, strict=True):
        if not decision.allowed:
            refusals.setdefault(i, []).append(f"{r.contact.name}: {decision.message}")
    if not refusals:
        transaction.savepoint_commit(savepoint)
        return {}
    transaction.savepoint_rollback(savepoint)
    authorize_send_many([r for i, r in requests if i not in refusals])
    return {i: SendRefused(words) for i, words in refusals.items()}


def _mime(email: OutgoingEmail, message_id, references, html, text, unsubscribe) -> bytes:
    if _from_name_supported(email) and email.from_name:
        headers = [("From", formataddr((email.from_name, email.from_address)))]
    else:
        headers = [("From", email.from_address)]
    if email.to:
        headers.append(("To", ", ".join(email.to)))
    if email.cc:
        headers.append(("Cc", ", ".join(email.cc)))
    if email.reply_to_addresses:
        headers.append(("Reply-To", ", ".join(email.reply_to_addresses)))
    headers += [
        ("Subject", email.subject),
        ("Date", format_datetime(timezone.now())),
        ("Message-ID", message_id),
    ]
    if email.reply_to is not None:
        headers.append(("In-Reply-To", email.reply_to.message_id))
    if references:
        headers.append(("References", " ".join(references)))
    headers += unsubscribe.items()
    return outgoing.email_bytes(headers, text, html, email.attachments)
