"""Sending a transactional email to chosen contacts: the review (who gets what, who is
refused and why, and the body a recipient gets, `preview`) and the send, all the allowed ones
in one batch through the enqueue service. Only contacts the user may see are sent to, or
previewed (records/access.py)."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext as _

from mailboxes.mime.sanitize import sanitize_html
from mailboxes.outbox.enqueue import SendRefused, email_enqueue_many
from records import selectors
from records.access import visible_to
from records.lists.services import members_of
from records.models import Contact, User
from transactional.emails import render, sending
from transactional.emails.models import TransactionalEmail
from transactional.pool import transport
from transactional.pool.models import SendingPool

MAX_RECIPIENTS = 500


@dataclass
class Line:
    """One recipient of the review: the contact (None: no contact the user may see has the
    address), its address, what they will get, or why they get nothing."""

    address: str
    contact: Contact | None
    rendered: render.Rendered | None = None
    refused: str = ""


def _contacts(user: User, addresses: list[str], contact_list) -> list[tuple[str, Contact | None]]:
    chosen: list[tuple[str, Contact | None]] = []
    owners = selectors.contacts_by_address(addresses)
    visible = {c.pk: c for c in visible_to(user, Contact.objects.filter(pk__in=owners.values()))}
    for address in addresses:
        chosen.append((address, visible.get(owners.get(address))))
    if contact_list is not None:
        for contact in members_of(user, contact_list).order_by("name"):
            chosen.append(((contact.email or "").lower(), contact))
    seen, unique = set(), []
    for address, contact in chosen:
        key = contact.pk if contact else address
        if key not in seen:
            seen.add(key)
            unique.append((address, contact))
    return unique[:MAX_RECIPIENTS]


def review(
    email: TransactionalEmail, user: User, addresses: list[str], contact_list=None
) -> list[Line]:
    pairs = _contacts(user, addresses, contact_list)
    gone = {b.address for b in transport.bounced(a for a, _c in pairs if a)}
    custom = render.custom_names(email.subject, email.body)
    lines = []
    for address, contact in pairs:
        line = Line(address, contact)
        if contact is None:
            line.refused = _("No contact you can see has this address.")
        elif not address:
            line.refused = _("This contact has no email address.")
        elif address in gone:
            line.refused = _("This address bounced hard before: it is never sent to again.")
        elif custom:
            line.refused = _(
                "This email uses custom tokens (%(names)s), which only the API fills."
            ) % {"names": ", ".join(custom)}
        else:
            line.rendered = render.render(email.subject, email.body, contact, {})
            if line.rendered.missing:
                line.refused = _("No value for %(tokens)s.") % {
                    "tokens": ", ".join(line.rendered.missing)
                }
        lines.append(line)
    return lines


def preview(email: TransactionalEmail, user: User, contact_pk: int) -> str | None:
    """The body `contact_pk` would get, sanitized for the sandboxed frame (a token without a
    value stays as written, as the review lists it); None for a contact the user may not
    see."""
    contact = visible_to(user, Contact.objects.filter(pk=contact_pk)).first()
    if contact is None:
        return None
    return sanitize_html(render.render(email.subject, email.body, contact, {}).html)


def send(email: TransactionalEmail, user: User, lines: list[Line], scheduled_at=None) -> int:
    """Queue the email for each line that is not refused; return how many were queued."""
    pool = SendingPool.load()
    ready = [line for line in lines if not line.refused]
    results = email_enqueue_many(
        [
            sending.outgoing(
                email,
                line.rendered,
                pool,
                to=line.address,
                contact=line.contact,
                sender=user,
                scheduled_at=scheduled_at,
            )
            for line in ready
        ]
    )
    return sum(not isinstance(r, SendRefused) for r in results)
