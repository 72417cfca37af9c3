"""Turn what a rep wrote into an outbound email: checked, then queued through the outbox.

`email_submit` validates everything a user could get wrong (addresses, header injection, the
From address, bounced recipients, attachment sizes, an empty body, a subject left empty without
saying so, tokens with no value), fills the tokens (`tokens.py`), makes the web addresses the rep
typed into links (so they are tracked like the links they made), puts the body in the rep's
font (their email preferences), picks the thread and the records (a help-desk email may open a
ticket), and hands the email to `outbox.enqueue.email_enqueue`, which runs the privacy check
and writes it, with its timeline activity unless the rep chose not to log it, in one
transaction.
"""

import logging
import re
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils.translation import gettext as _

from mailboxes.composer import body, tokens
from mailboxes.constants import FORWARDED_TITLE, MailboxKind, SendSource, TeamInboxKind
from mailboxes.models import (
    BouncedAddress,
    EmailMessage,
    EmailThread,
)
from mailboxes.models.inboxes import team_mailboxes_for
from mailboxes.outbox.enqueue import (
    Attachment,
    OutgoingEmail,
    SendRefused,
    Source,
    email_enqueue,
)
from mailboxes.preferences.defaults import FromChoice, font_of, own_addresses, preferences_for
from mailboxes.sync.bodies import fill_body
from privacy.constants import SenderContext
from records import selectors
from records.constants import RecordKind
from records.models import Contact, Record, Ticket, User
from records.services import association_create, record_save

LINE_BREAK = re.compile(r"[\r\n]")
log = logging.getLogger(__name__)


class ComposeError(ValidationError):
    """What is wrong with an email, keyed by composer field, in words for the rep.
    `missing_tokens` names the tokens that have no value (tokens.Filled.missing)."""

    def __init__(self, message, *, missing_tokens=(), **kwargs):
        super().__init__(message, **kwargs)
        self.missing_tokens = list(missing_tokens)


NO_SUBJECT = "no_subject"  # the code of the error a "Send without subject" answers


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
    log: bool = True  # on the timelines of its records and contacts (help-desk email always is)
    template_id: int | None = None  # the template the rep started from, if any
    # What tokens are filled from; None: the first of `records` and the To addresses.
    token_context: tokens.Context | None = None
    no_subject_confirmed: bool = False  # the rep chose to send it without a subject


def from_choices(user: User) -> list[FromChoice]:
    """The addresses `user` may send from: their inboxes and aliases, then team addresses of
    inboxes routed to them or their team (admins: every team inbox)."""
    choices = own_addresses(user)
    for mailbox in team_mailboxes_for(user):
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
            raise ComposeError({field_name: _("Line breaks are not allowed in addresses.")})
        try:
            validate_email(value)
        except ValidationError:
            bad.append(value)
            continue
        if value.lower() not in clean:
            clean.append(value.lower())
    if bad:
        raise ComposeError(
            {field_name: _("Not valid email addresses: %(list)s") % {"list": ", ".join(bad)}}
        )
    return clean


def validate(draft: Draft) -> FromChoice:
    """Check the draft; return the From it uses. Raises ComposeError naming the field."""
    if not draft.sender.can_reach_out:
        raise ComposeError({"__all__": _("A View-only seat cannot send email.")})
    choice = next((c for c in from_choices(draft.sender) if c.key == draft.from_key), None)
    if choice is None:
        raise ComposeError({"from_key": _("Choose one of your own inboxes as the sender.")})
    if LINE_BREAK.search(draft.subject):
        raise ComposeError({"subject": _("Line breaks are not allowed in the subject.")})
    if len(draft.subject) > 500:
        raise ComposeError({"subject": _("Keep the subject under 500 characters.")})
    draft.to = clean_addresses(draft.to, "to")
    draft.cc = clean_addresses(draft.cc, "cc")
    draft.bcc = clean_addresses(draft.bcc, "bcc")
    if not (draft.to or draft.cc or draft.bcc):
        raise ComposeError({"to": _("Add at least one recipient.")})
    if len(draft.to) + len(draft.cc) + len(draft.bcc) > settings.CRM_MAX_RECIPIENTS:
        raise ComposeError(
            {"to": _("Send to at most %(n)s recipients.") % {"n": settings.CRM_MAX_RECIPIENTS}}
        )
    bounced = BouncedAddress.objects.filter(address__in=draft.to + draft.cc + draft.bcc)
    if bounced:
        raise ComposeError({"to": [bounce_message(b) for b in bounced]})
    limit = settings.CRM_ATTACHMENTS_MAX_BYTES
    if sum(len(a.data) for a in draft.attachments) > limit:
        raise ComposeError(
            {
                "attachments": _("Attachments may total %(n)s MB at most.")
                % {"n": limit // (1024 * 1024)}
            }
        )
    for attachment in draft.attachments:
        if LINE_BREAK.search(attachment.filename):
            raise ComposeError({"attachments": _("An attachment's name has a line break.")})
    check_content(draft)
    return choice


def check_content(draft: Draft) -> None:
    """Refuse an empty body and a subject left empty unconfirmed; fill the tokens, refusing
    those left without a value. Reports all three at once, so one round trip fixes them."""
    errors: dict[str, list] = {}
    if not draft.subject.strip() and not draft.no_subject_confirmed:
        errors["subject"] = [
            ValidationError(
                _("This email has no subject. Add one, or send it without a subject."),
                code=NO_SUBJECT,
            )
        ]
    # A forward may carry the forwarded email alone; anything else needs words of the rep's.
    if draft.forward_of is None and body.is_empty(draft.html):
        errors["html"] = [_("Write a message: the email's body is empty.")]
    context = draft.token_context or tokens.context_for(
        draft.sender, draft.records[0] if draft.records else None, draft.to
    )
    subject = tokens.fill_text(draft.subject, context)
    html = tokens.fill_html(draft.html, context)
    missing = list(dict.fromkeys(subject.missing + html.missing))
    if missing:
        names = ", ".join(tokens.token_text(key) for key in missing)
        errors.setdefault("html", []).append(
            _(
                "These tokens have no value for this email: %(names)s. Fill each in, or give "
                'it a fallback, as in {{ contact.first_name | default:"there" }}.'
            )
            % {"names": names}
        )
    if errors:
        raise ComposeError(errors, missing_tokens=missing)
    draft.subject, draft.html = subject.text, html.text


def bounce_message(bounced: BouncedAddress) -> str:
    return _(
        "%(address)s bounced hard on %(date)s (%(reason)s): remove it or correct the contact's "
        "address."
    ) % {
        "address": bounced.address,
        "date": bounced.bounced_at.strftime("%Y-%m-%d"),
        "reason": bounced.reason or _("no reason given"),
    }


def recipient_contacts(draft: Draft) -> list[Contact]:
    """The contacts the email goes to: the one contact that owns each recipient address (an
    address belongs to one contact at most), in id order."""
    owners = selectors.contacts_by_address(draft.to + draft.cc + draft.bcc)
    return list(Contact.objects.filter(pk__in=set(owners.values())).order_by("pk"))


def help_desk(choice: FromChoice) -> bool:
    return choice.mailbox.kind == MailboxKind.TEAM and (
        choice.mailbox.team_inbox.kind == TeamInboxKind.HELP_DESK
    )


def privacy_context(draft: Draft, choice: FromChoice) -> str:
    """Email from a ticket, or from a help-desk address, is a ticket reply (no basis needed)."""
    on_ticket = any(r.kind == RecordKind.TICKET for r in draft.records)
    return (
        SenderContext.TICKET_REPLY if on_ticket or help_desk(choice) else SenderContext.ONE_TO_ONE
    )


def thread_for(draft: Draft, choice: FromChoice, contacts) -> tuple[EmailThread, list[Record]]:
    """The thread and the records the email is logged on.

    A reply joins its thread. From a help-desk address, an email on a ticket joins the ticket's
    latest thread, and one written elsewhere creates a ticket for the conversation.
    """
    records = list({r.pk: r for r in [*draft.records, *contacts]}.values())
    parent = draft.reply_to
    if parent is not None:
        return parent.thread, records
    tickets = [r for r in draft.records if r.kind == RecordKind.TICKET]
    if help_desk(choice) and tickets:
        latest = (
            EmailMessage.objects.filter(activity__links__record=tickets[0])
            .order_by("-pk")
            .select_related("thread")
            .first()
        )
        if latest is not None:
            return latest.thread, records
    if help_desk(choice) and not tickets:
        ticket = record_save(
            Ticket(name=draft.subject or _("(no subject)"), owner=draft.sender, description="")
        )
        for record in records:
            association_create(ticket, record)
        records.append(ticket)
    return EmailThread.objects.create(subject=draft.subject[:500]), records


def _quoted_text_of(draft: Draft):
    """Which typed URLs stay text: those the quoted or forwarded email shows, which the rep
    did not write (tracking/links.py says why those are never tracked)."""
    quoted = draft.reply_to or draft.forward_of
    if quoted is None:
        return lambda url: False
    if not quoted.body_parsed:
        fill_body(quoted)
    text = f"{quoted.text_body}\n{quoted.html_body}"
    return lambda url: url in text


def email_submit(draft: Draft) -> EmailMessage:
    """Validate a rep's email and queue it through the outbox; return its message row.

    Raises ComposeError naming the field: what the rep typed, or the privacy check's refusal
    of a recipient (under "to").
    """
    choice = validate(draft)
    contacts = recipient_contacts(draft)
    html = body.linkify(draft.html, keep=_quoted_text_of(draft))
    html = body.in_font(html, font_of(preferences_for(draft.sender)).style)
    with transaction.atomic():
        # A help-desk email may open a ticket here; a refusal below rolls it back with the rest.
        thread, records = thread_for(draft, choice, contacts)
        try:
            return email_enqueue(
                OutgoingEmail(
                    mailbox=choice.mailbox,
                    from_address=choice.address,
                    from_name=choice.name,
                    subject=draft.subject,
                    html=html,
                    to=draft.to,
                    cc=draft.cc,
                    bcc=draft.bcc,
                    attachments=draft.attachments,
                    contacts=contacts,
                    records=records,
                    thread=thread,
                    reply_to=draft.reply_to,
                    quoted=draft.reply_to or draft.forward_of,
                    privacy_context=privacy_context(draft, choice),
                    source=Source(SendSource.ONE_TO_ONE, template_id=draft.template_id),
                    sender=draft.sender,
                    one_time_basis=draft.one_time_basis,
                    track=draft.track,
                    # A help-desk email is the ticket's conversation: it is always on the ticket.
                    log=draft.log or help_desk(choice),
                    scheduled_at=draft.scheduled_at,
                    # Once it went out; until then its state names it (timeline/activity.py).
                    timeline_title=FORWARDED_TITLE if draft.forward_of is not None else "",
                )
            )
        except SendRefused as refused:
            raise ComposeError({"to": refused.refusals}) from None
