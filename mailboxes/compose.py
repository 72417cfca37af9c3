"""Turn what a rep wrote into an outbound email: checked, built once, queued with its activity.

`email_submit` validates everything a user could get wrong (addresses, header injection, the
From address, attachment sizes), runs the privacy check for every recipient who is a contact,
then writes in one transaction the thread, the timeline activity, the message (with its final
Message-ID, HTML and text parts and tracking) and the queue row. Nothing is sent in the web
request: a worker sends it (`sending.py`), re-checking privacy at that moment.
"""

import logging
import mimetypes
import re
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.message import EmailMessage as MimeMessage
from email.utils import format_datetime, formataddr, make_msgid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from privacy.constants import SenderContext
from privacy.services import authorize_send
from records.constants import ActivityKind, RecordKind
from records.models import Activity, ActivityLink, Contact, ContactEmail, Record, Ticket, User
from records.services import association_create, record_save

from . import sanitize
from .constants import Direction, MailboxKind, SendStatus, TeamInboxKind
from .models import (
    BouncedAddress,
    EmailMessage,
    EmailThread,
    Mailbox,
    Outbound,
    OutboundAttachment,
)

LINE_BREAK = re.compile(r"[\r\n]")
log = logging.getLogger(__name__)


class ComposeError(ValidationError):
    """What is wrong with an email, keyed by composer field, in words for the rep."""


@dataclass(frozen=True)
class FromChoice:
    """One entry of the From menu: an inbox, or an alias of one."""

    mailbox: Mailbox
    address: str
    name: str

    @property
    def key(self) -> str:
        return f"{self.mailbox.pk}:{self.address}"


@dataclass
class Attachment:
    filename: str
    content_type: str
    data: bytes
    content_id: str = ""


@dataclass
class Draft:
    sender: User
    from_key: str
    to: list[str]
    subject: str
    html: str
    cc: list[str] = field(default_factory=list)
    bcc: list[str] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    records: list[Record] = field(default_factory=list)
    reply_to: EmailMessage | None = None
    forward_of: EmailMessage | None = None
    scheduled_at: datetime | None = None
    one_time_basis: int | None = None
    track: bool = True


def from_choices(user: User) -> list[FromChoice]:
    """The addresses `user` may send from: their inboxes and aliases, then team addresses of
    inboxes routed to them or their team (admins: every team inbox)."""
    choices = []
    own = (
        Mailbox.objects.filter(owner=user)
        .prefetch_related("aliases")
        .order_by("-is_default_from", "email")
    )
    name = user.display_name
    for mailbox in own:
        choices.append(FromChoice(mailbox, mailbox.email, name))
        for alias in mailbox.aliases.all():
            if alias.email != mailbox.email:
                choices.append(FromChoice(mailbox, alias.email, alias.display_name or name))
    teams = Mailbox.objects.filter(kind=MailboxKind.TEAM).select_related("team_inbox")
    if not user.is_staff:
        teams = teams.filter(team_inbox__route_to_user=user) | teams.filter(
            team_inbox__route_to_team_id=user.team_id or -1
        )
    for mailbox in teams.distinct().order_by("email"):
        choices.append(
            FromChoice(mailbox, mailbox.email, mailbox.display_name or mailbox.team_inbox.name)
        )
    return choices


def clean_addresses(values: list[str], field_name: str) -> list[str]:
    clean, bad = [], []
    for value in values:
        value = value.strip()
        if not value:
            continue
        if LINE_BREAK.search(value):
            raise ComposeError({field_name: "Line breaks are not allowed in addresses."})
        try:
            validate_email(value)
        except ValidationError:
            bad.append(value)
            continue
        if value.lower() not in clean:
            clean.append(value.lower())
    if bad:
        raise ComposeError({field_name: f"Not valid email addresses: {', '.join(bad)}"})
    return clean


def validate(draft: Draft) -> FromChoice:
    """Check the draft; return the From it uses. Raises ComposeError naming the field."""
    if not draft.sender.can_send_email:
        raise ComposeError({"__all__": "A View-only seat cannot send email."})
    choice = next((c for c in from_choices(draft.sender) if c.key == draft.from_key), None)
    if choice is None:
        raise ComposeError({"from_key": "Choose one of your own inboxes as the sender."})
    if LINE_BREAK.search(draft.subject):
        raise ComposeError({"subject": "Line breaks are not allowed in the subject."})
    if len(draft.subject) > 500:
        raise ComposeError({"subject": "Keep the subject under 500 characters."})
    draft.to = clean_addresses(draft.to, "to")
    draft.cc = clean_addresses(draft.cc, "cc")
    draft.bcc = clean_addresses(draft.bcc, "bcc")
    if not (draft.to or draft.cc or draft.bcc):
        raise ComposeError({"to": "Add at least one recipient."})
    if len(draft.to) + len(draft.cc) + len(draft.bcc) > settings.CRM_MAX_RECIPIENTS:
        raise ComposeError({"to": f"Send to at most {settings.CRM_MAX_RECIPIENTS} recipients."})
    bounced = BouncedAddress.objects.filter(address__in=draft.to + draft.cc + draft.bcc)
    if bounced:
        raise ComposeError({"to": [bounce_message(b) for b in bounced]})
    limit = settings.CRM_ATTACHMENTS_MAX_BYTES
    if sum(len(a.data) for a in draft.attachments) > limit:
        raise ComposeError(
            {"attachments": f"Attachments may total {limit // (1024 * 1024)} MB at most."}
        )
    for attachment in draft.attachments:
        if LINE_BREAK.search(attachment.filename):
            raise ComposeError({"attachments": "An attachment's name has a line break."})
    return choice


def bounce_message(bounced: BouncedAddress) -> str:
    reason = bounced.reason or "no reason given"
    return (
        f"{bounced.address} bounced hard on {bounced.bounced_at:%Y-%m-%d} ({reason}): "
        "remove it or correct the contact's address."
    )


def recipient_contacts(draft: Draft) -> list[Contact]:
    addresses = draft.to + draft.cc + draft.bcc
    ids = ContactEmail.objects.filter(address__in=addresses).values_list("contact_id", flat=True)
    return list(Contact.objects.filter(pk__in=set(ids)).order_by("pk"))


def privacy_context(draft: Draft, choice: FromChoice) -> str:
    """Email from a ticket, or from a help-desk address, is a ticket reply (no basis needed)."""
    on_ticket = any(r.kind == RecordKind.TICKET for r in draft.records)
    help_desk = choice.mailbox.kind == MailboxKind.TEAM and (
        choice.mailbox.team_inbox.kind == TeamInboxKind.HELP_DESK
    )
    return SenderContext.TICKET_REPLY if on_ticket or help_desk else SenderContext.ONE_TO_ONE


def check_privacy(draft, choice, contacts, context, message_id) -> None:
    refusals = []
    for contact in contacts:
        decision = authorize_send(
            contact,
            context,
            actor=draft.sender,
            message_ref=message_id,
            one_time_basis=draft.one_time_basis,
        )
        if not decision.allowed:
            refusals.append(f"{contact.name}: {decision.message}")
    if refusals:
        raise ComposeError({"to": refusals})


def thread_for(draft: Draft, choice: FromChoice, contacts) -> tuple[EmailThread, list[Record]]:
    """The thread and the records the email is logged on.

    A reply joins its thread. From a help-desk address, an email on a ticket joins the ticket's
    latest thread, and one written elsewhere creates a ticket for the conversation.
    """
    records = list({r.pk: r for r in [*draft.records, *contacts]}.values())
    parent = draft.reply_to
    if parent is not None:
        return parent.thread, records
    help_desk = choice.mailbox.kind == MailboxKind.TEAM and (
        choice.mailbox.team_inbox.kind == TeamInboxKind.HELP_DESK
    )
    tickets = [r for r in draft.records if r.kind == RecordKind.TICKET]
    if help_desk and tickets:
        latest = (
            EmailMessage.objects.filter(activity__links__record=tickets[0])
            .order_by("-pk")
            .select_related("thread")
            .first()
        )
        if latest is not None:
            return latest.thread, records
    if help_desk and not tickets:
        ticket = record_save(
            Ticket(name=draft.subject or "(no subject)", owner=draft.sender, description="")
        )
        for record in records:
            association_create(ticket, record)
        records.append(ticket)
    return EmailThread.objects.create(subject=draft.subject[:500]), records


def build_mime(draft, choice, message_id, references, html, text, unsubscribe) -> bytes:
    mime = MimeMessage()
    if choice.mailbox.from_name_supported and choice.name:
        mime["From"] = formataddr((choice.name, choice.address))
    else:
        mime["From"] = choice.address
    if draft.to:
        mime["To"] = ", ".join(draft.to)
    if draft.cc:
        mime["Cc"] = ", ".join(draft.cc)
    mime["Subject"] = draft.subject
    mime["Date"] = format_datetime(timezone.now())
    mime["Message-ID"] = message_id
    if draft.reply_to is not None:
        mime["In-Reply-To"] = draft.reply_to.message_id
    # Our own id goes last in References too: some servers rewrite Message-ID or drop
    # References, and a reply still carries this trail back to the email it answers.
    mime["References"] = " ".join([*references, message_id])
    for name, value in unsubscribe.items():
        mime[name] = value
    # Quoted-printable keeps every line under SMTP's 1,000-octet limit: an editor's HTML (and
    # tracked links) often sits on one very long line that servers refuse.
    mime.set_content(text, cte="quoted-printable")
    mime.add_alternative(html, subtype="html", cte="quoted-printable")
    html_part = mime.get_payload()[-1]
    for attachment in draft.attachments:
        maintype, _, subtype = (
            attachment.content_type
            or mimetypes.guess_type(attachment.filename)[0]
            or "application/octet-stream"
        ).partition("/")
        if attachment.content_id:
            html_part.add_related(
                attachment.data,
                maintype,
                subtype,
                cid=f"<{attachment.content_id}>",
                filename=attachment.filename,
            )
        else:
            mime.add_attachment(
                attachment.data,
                maintype=maintype,
                subtype=subtype or "octet-stream",
                filename=attachment.filename,
            )
    return mime.as_bytes(policy=policy.SMTP)


def email_submit(draft: Draft) -> EmailMessage:
    """Validate, privacy-check and queue an email; return its message row."""
    choice = validate(draft)
    contacts = recipient_contacts(draft)
    context = privacy_context(draft, choice)
    domain = choice.address.rsplit("@", 1)[-1]
    message_id = make_msgid(domain=domain)
    html = sanitize.sanitize_html(draft.html or "")
    text = sanitize.html_to_text(html)
    references = []
    if draft.reply_to is not None:
        # The parent's References already end with its own id; keep each id once, in order.
        references = list(
            dict.fromkeys([*draft.reply_to.references.split(), draft.reply_to.message_id])
        )
    with transaction.atomic():
        check_privacy(draft, choice, contacts, context, message_id)
        thread, records = thread_for(draft, choice, contacts)
        now = timezone.now()
        scheduled = draft.scheduled_at is not None and draft.scheduled_at > now
        activity = Activity.objects.create(
            kind=ActivityKind.EMAIL,
            occurred_at=draft.scheduled_at if scheduled else now,
            created_by=draft.sender,
            title=f"Email - {draft.subject}" if draft.forward_of is not None else "",
        )
        ActivityLink.objects.bulk_create(
            [
                ActivityLink(activity=activity, record_id=r.pk, occurred_at=activity.occurred_at)
                for r in records
            ]
        )
        message = EmailMessage.objects.create(
            mailbox=choice.mailbox,
            message_id=message_id,
            in_reply_to=draft.reply_to.message_id if draft.reply_to else "",
            references=" ".join([*references, message_id]),
            thread=thread,
            direction=Direction.OUTGOING,
            from_addr=choice.address,
            from_name=choice.name if choice.mailbox.from_name_supported else "",
            to_addrs=draft.to,
            cc_addrs=draft.cc,
            subject=draft.subject,
            sent_at=None,
            text_body=text,
            html_body=html,
            snippet=sanitize.snippet(text, 200),
            has_attachments=any(not a.content_id for a in draft.attachments),
            body_parsed=True,
            activity=activity,
        )
        message.contacts.set(contacts)
        tracked_html = instrument(html, message) if draft.track else html
        unsubscribe = {}
        if context == SenderContext.ONE_TO_ONE and len(contacts) == 1:
            from privacy.links import list_unsubscribe_headers

            unsubscribe = list_unsubscribe_headers(contacts[0], context)
        message.raw = build_mime(
            draft, choice, message_id, references, tracked_html, text, unsubscribe
        )
        message.size = len(message.raw)
        message.save(update_fields=["raw", "size"])
        outbound = Outbound.objects.create(
            message=message,
            mailbox=choice.mailbox,
            sender=draft.sender,
            envelope_from=choice.mailbox.email,
            recipients=draft.to + draft.cc + draft.bcc,
            bcc_addrs=draft.bcc,
            status=SendStatus.SCHEDULED if scheduled else SendStatus.QUEUED,
            scheduled_at=draft.scheduled_at if scheduled else None,
            next_attempt_at=draft.scheduled_at if scheduled else now,
            privacy_context=context,
            one_time_basis_id=draft.one_time_basis,
            contact_ids=[c.pk for c in contacts],
            track=draft.track,
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
                for a in draft.attachments
            ]
        )
        if not scheduled:
            transaction.on_commit(lambda: enqueue_send(outbound.pk))
    return message


def instrument(html: str, message: EmailMessage) -> str:
    from .tracking import instrument as add_tracking

    return add_tracking(html, message)


def enqueue_send(outbound_id: int) -> None:
    """Hand the email to a worker now; if the broker is down, the periodic pass sends it."""
    from .tasks import send_outbound

    try:
        send_outbound.delay(outbound_id)
    except Exception:  # the row is committed and queued: send_due will pick it up
        log.warning(
            "could not enqueue outbound %s; the next send_due pass will", outbound_id, exc_info=True
        )
