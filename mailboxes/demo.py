"""The demo's one-to-one email (`load_demo_inboxes`): a rep's emails to their contacts, queued
through the outbox as the composer queues them, so the Email page, the timelines and the
reports of `make run` have something to show. The worker sends them to the local catcher,
which writes some customers' answers beside them (`answer`, crm_mail/catcher.py); an answer
reaches the rep's demo inbox at its next sync and counts as a reply. Opening a caught email
at /dev/mail/ and following its link counts as a click, as for any tracked email."""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timedelta
from email import message_from_string, policy
from email.message import EmailMessage as Mime
from email.utils import format_datetime, make_msgid

from django.utils import timezone

from mailboxes.constants import Direction
from mailboxes.models import EmailMessage, Mailbox
from mailboxes.outbox.enqueue import OutgoingEmail, SendRefused, Source, email_enqueue
from privacy.constants import SenderContext
from records.demo import DEMO_DOMAIN
from records.models import Contact, User

# (subject, body, the customer's answer or "": none). The links are tracked.
EMAILS = [
    (
        "Your quote for the spring order",
        "<p>Hi {first},</p><p>as promised, here is the quote for the spring order. "
        'The details are on <a href="https://www.example.com/quotes/spring">our quotes page</a>.'
        "</p><p>Best,<br>{sender}</p>",
        "Thanks, this looks good. Can we talk about delivery dates on Thursday?",
    ),
    (
        "Following up on our call",
        "<p>Hello {first},</p><p>thanks for your time today. I have put the points we "
        'discussed on <a href="https://www.example.com/notes">one page</a>.</p>'
        "<p>Kind regards,<br>{sender}</p>",
        "",
    ),
    (
        "The new price list",
        "<p>Dear {first},</p><p>the new price list is out: "
        '<a href="https://www.example.com/prices">have a look</a> and tell me what you think.'
        "</p><p>{sender}</p>",
        "Could you send it as a PDF as well?",
    ),
    (
        "A case study you may like",
        "<p>Hi {first},</p><p>a customer of ours in your field wrote about their first year "
        'with us: <a href="https://www.example.com/stories">their story</a>.</p><p>{sender}</p>',
        "",
    ),
]


def send_demo_emails(user: User) -> int:
    """Queue the demo's emails from `user`'s demo inbox to a few of their contacts, once (none
    when the inbox has sent anything already); answer how many were queued."""
    mailbox = Mailbox.objects.filter(email__iexact=user.email).first()
    if (
        mailbox is None
        or EmailMessage.objects.filter(mailbox=mailbox, direction=Direction.OUTGOING).exists()
    ):
        return 0
    contacts = Contact.objects.filter(owner=user).exclude(email="").order_by("pk")[: len(EMAILS)]
    queued = 0
    for contact, (subject, body, _reply) in zip(contacts, EMAILS, strict=False):
        first = contact.first_name or contact.name
        email = OutgoingEmail(
            mailbox=mailbox,
            from_address=mailbox.email,
            from_name=user.display_name,
            subject=subject,
            html=body.format(first=first, sender=user.display_name),
            to=[contact.email],
            privacy_context=SenderContext.ONE_TO_ONE,
            source=Source(),
            sender=user,
            contacts=[contact],
        )
        try:
            email_enqueue(email)
        except SendRefused:
            continue  # the account's privacy rules refuse this contact: as the composer would
        queued += 1
    return queued


def answer(caught: bytes) -> bytes | None:
    """The customer's answer to an email the local catcher caught, when it is one of the
    demo's emails from a demo inbox that their customer answers (EMAILS); else None. Written
    when caught, so it is later than the email, as a reply is."""
    # Headers may be UTF-8 (an address with accents, RFC 6532).
    message = message_from_string(caught.decode("utf-8", "replace"), policy=policy.default)
    wanted = {subject: text for subject, _body, text in EMAILS if text}
    sender, recipients = message.get("From"), message.get_all("To") or []
    text = wanted.get(str(message.get("Subject", "")))
    if not text or sender is None or len(recipients) != 1 or not message.get("Message-ID"):
        return None
    rep = sender.addresses[0]
    if not rep.addr_spec.endswith("@" + DEMO_DOMAIN):
        return None
    customer = recipients[0].addresses[0]
    # Signed with the first name their address starts with ("walter.kowalski0" -> "Walter").
    signature = customer.display_name or customer.username.split(".")[0].rstrip("0123456789")
    # Whole seconds, two ahead: later than the email's sent time however the second falls.
    return customer_email(
        str(customer),
        str(rep),
        f"Re: {message['Subject']}",
        f"{text}\n\n{signature.title()}",
        timezone.now() + timedelta(seconds=2),
        in_reply_to=message["Message-ID"],
    )


def caught_name(at: datetime | None = None) -> str:
    """The file name of an email the local catcher holds, caught at `at` (now by default):
    names sort by arrival, which is how the demo inboxes read them."""
    at_ns = time.time_ns() if at is None else int(at.timestamp() * 1e9)
    return f"{at_ns}-{uuid.uuid4().hex[:8]}.eml"


def customer_email(
    sender: str, to: str, subject: str, text: str, at: datetime, *, in_reply_to: str = ""
) -> bytes:
    """A demo customer's email: its bytes as the catcher keeps them (UTF-8 headers allowed)."""
    mail = Mime()
    mail["From"], mail["To"], mail["Subject"] = sender, to, subject
    mail["Date"] = format_datetime(at)
    mail["Message-ID"] = make_msgid(domain="customer.example")
    if in_reply_to:
        mail["In-Reply-To"] = mail["References"] = in_reply_to
    mail.set_content(text)
    return mail.as_bytes(policy=policy.SMTPUTF8)
