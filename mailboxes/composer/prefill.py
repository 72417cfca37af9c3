"""What the composer pre-fills: recipients (and the associated contacts it offers), subject and
body for new emails, replies and forwards, and the time a "send later" choice means. Templates'
tokens are filled by tokens.py."""

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from django.utils import timezone
from django.utils.html import escape, linebreaks
from django.utils.translation import gettext as _

from mailboxes.composer import library
from mailboxes.mime import images, parsing, sanitize
from mailboxes.models import EmailMessage, Signature
from mailboxes.sync.bodies import fill_body
from mailboxes.tracking.links import QUOTE_CLASS, is_tracking_url
from records import selectors
from records.constants import RecordKind
from records.models import Contact, Record

REPLY_PREFIX = re.compile(r"^\s*(re|aw|sv|r)\s*:", re.I)


@dataclass(frozen=True)
class Recipient:
    """A contact the composer offers for To."""

    name: str
    address: str


def associated_recipients(user, record: Record) -> list[Recipient]:
    """The contacts associated with a deal, company, ticket or custom object that `user` may
    see and that have an address, by name: what the composer offers for To."""
    if record.kind == RecordKind.CONTACT:
        return []
    ids = [
        r.pk
        for group in selectors.associations_for(user, record)
        if group.record_type.kind == RecordKind.CONTACT
        for r in group.records
    ]
    contacts = Contact.objects.filter(pk__in=ids).exclude(email="").order_by("name", "pk")
    return [Recipient(c.name, c.email) for c in contacts]


def new_email_to(record: Record, offered: list[Recipient]) -> str:
    """To of a new email: a contact's own address; on a deal, company or ticket its one
    associated contact (with several, the rep chooses among those offered); on a custom object
    nobody, as in HubSpot."""
    if record.kind == RecordKind.CONTACT:
        return record.typed.email
    if record.kind != RecordKind.CUSTOM and len(offered) == 1:
        return offered[0].address
    return ""


def signature_html(user) -> str:
    """The user's default signature, sanitized again (it may predate the sanitizer)."""
    signature = Signature.objects.filter(owner=user, is_default=True).first()
    if signature is None:
        return ""
    return f'<br><div class="signature">{library.body_html(signature)}</div>'


def reply_subject(subject: str) -> str:
    return subject if REPLY_PREFIX.match(subject or "") else f"Re: {subject}"


def reply_recipients(parent: EmailMessage, mine: set[str], *, everyone: bool, user) -> list[str]:
    """Who a reply goes to. A reply to a teammate's email goes to the teammate only."""
    if parent.direction == "out":
        sender = getattr(getattr(parent, "outbound", None), "sender", None)
        if sender is not None and sender != user and parent.from_addr not in mine:
            return [parent.from_addr]
        people = list(parent.to_addrs) + (list(parent.cc_addrs) if everyone else [])
    else:
        people = [parent.from_addr] + (
            list(parent.to_addrs) + list(parent.cc_addrs) if everyone else []
        )
    out = []
    for address in people:
        if address and address.lower() not in mine and address.lower() not in out:
            out.append(address.lower())
    return out


def send_time(choice: str, custom: datetime | None, now: datetime | None = None):
    """The moment a "send later" choice means, in the user's active time zone; None = now."""
    now = timezone.localtime(now or timezone.now())
    tomorrow = now.date() + timedelta(days=1)
    at = lambda day, hour: timezone.make_aware(datetime.combine(day, time(hour)))  # noqa: E731
    if choice == "1h":
        return now + timedelta(hours=1)
    if choice == "tomorrow_morning":
        return at(tomorrow, 8)
    if choice == "tomorrow_afternoon":
        return at(tomorrow, 13)
    if choice == "monday_morning":
        days = (7 - now.weekday()) % 7 or 7
        return at(now.date() + timedelta(days=days), 8)
    if choice == "custom" and custom is not None:
        return custom
    return None


def forward_body(parent: EmailMessage) -> str:
    return "<br><br>" + quote_html(parent, quote=False)


def reply_body(parent: EmailMessage) -> str:
    return "<br><br>" + quote_html(parent, quote=True)


# The quote's block: its class tells tracking not to track a link inside it (tracking/links.py,
# which also leaves alone any link of the quoted email wherever the rep moves it).
_QUOTE_OPEN = (
    f'<blockquote class="{QUOTE_CLASS}" '
    'style="margin:0 0 0 .8ex;border-left:1px solid #ccc;padding-left:1ex">'
)
_FORWARD_OPEN = f'<blockquote class="{QUOTE_CLASS}" style="margin:0">'


def quote_html(message: EmailMessage, *, quote: bool) -> str:
    """The message quoted (a reply) or forwarded, in the marked block, as the composer shows it.

    Sanitized again, and its remote images blocked (mime/images.py): opening Reply or Forward
    loads nothing from the sender's servers. The composer gives them back their URLs when the
    email is sent (`unblock_images`); the CRM's own tracking pixels are dropped. The pictures the
    message carries itself (cid: parts) come as data: URLs, which the composer sends as inline
    parts again. Its attached files are listed apart (composer/attachments.py).
    """
    if not message.body_parsed:
        fill_body(message)
    when = timezone.localtime(message.sent_at or message.created_at).strftime("%a, %d %b %Y %H:%M")
    sender = escape(message.from_name or message.from_addr)
    body = sanitize.sanitize_html(message.html_body or linebreaks(escape(message.text_body)))
    body = images.rewrite_images(
        body, block_remote=True, drop=is_tracking_url, inline=parsing.inline_images(message.raw)
    )
    if quote:
        header = _("On %(when)s, %(sender)s wrote:") % {"when": when, "sender": sender}
        return f"<div>{header}</div>{_QUOTE_OPEN}{body}</blockquote>"
    header = "<br>".join(
        [
            _("---------- Forwarded message ----------"),
            _("From: %(sender)s") % {"sender": sender},
            _("Date: %(when)s") % {"when": when},
            _("Subject: %(subject)s") % {"subject": escape(message.subject)},
            _("To: %(to)s") % {"to": escape(", ".join(message.to_addrs))},
        ]
    )
    return f"{_FORWARD_OPEN}<div>{header}</div><br>{body}</blockquote>"


def editor_html(html: str) -> str:
    """What the editor starts with (a signature, a quote, or what the rep sent back after an
    error), sanitized again with its remote images blocked: blocked images are given their URLs
    back first, so sanitizing (which drops unknown attributes) does not lose them."""
    body = sanitize.sanitize_html(images.unblock(html or ""))
    return images.rewrite_images(body, block_remote=True, drop=is_tracking_url)


def unblock_images(html: str) -> str:
    """What the rep sends: the quote's blocked images with their URLs back (see quote_html)."""
    return images.unblock(html)
