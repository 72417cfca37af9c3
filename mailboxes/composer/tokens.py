"""Personalization tokens: `{{ contact.first_name }}`, or with a fallback for when the record
has no value, `{{ contact.first_name | default:"there" }}` (single quotes work too).

Values come from the records an email is written about (`context_for`): the contact is the one
the email goes to (the first To address that is a contact the rep may see), else the record
itself or the first contact associated with it; the company, deal and ticket are the record
itself or the first of its associated ones, and a contact's company stands in when the record
has none. So a template sent from a deal fills the deal's contact and company. Only records the
rep may see are read, through the records app's own selectors.

A token with no value and no fallback is *missing*: it stays as written. The composer shows the
missing ones when a template is inserted, and `drafts.validate` refuses to send while any is
left, so no email goes out as "Hi ,". Tokens are filled in what the rep wrote, never in the
email a reply or forward quotes (`body.map_text`).
"""

import re
from dataclasses import dataclass, field

from django.utils import formats
from django.utils.html import escape
from django.utils.translation import gettext_lazy as _

from mailboxes.composer import body
from records import selectors
from records.access import visible_to
from records.constants import RecordKind
from records.models import Company, Contact, Deal, Record, Ticket, User

TOKEN = re.compile(
    r"\{\{\s*(?P<kind>contact|company|deal|ticket|sender)\s*\.\s*(?P<field>\w+)\s*"
    r"(?:\|\s*default\s*:\s*(?:\"(?P<dq>[^\"{}]*)\"|'(?P<sq>[^'{}]*)'|“(?P<cq>[^”{}]*)”)\s*)?"
    r"\}\}"
)

# What each token may name, with the words the composer shows for it.
FIELDS = {
    "contact": {
        "first_name": _("Contact first name"),
        "last_name": _("Contact last name"),
        "name": _("Contact full name"),
        "email": _("Contact email"),
        "phone": _("Contact phone"),
        "job_title": _("Contact job title"),
    },
    "company": {
        "name": _("Company name"),
        "domain": _("Company domain"),
        "city": _("Company city"),
        "industry": _("Company industry"),
        "phone": _("Company phone"),
    },
    "deal": {
        "name": _("Deal name"),
        "amount": _("Deal amount"),
        "stage": _("Deal stage"),
        "close_date": _("Deal close date"),
        "pipeline": _("Deal pipeline"),
    },
    "ticket": {
        "name": _("Ticket name"),
        "status": _("Ticket status"),
        "priority": _("Ticket priority"),
        "pipeline": _("Ticket pipeline"),
    },
    "sender": {
        "name": _("Your name"),
        "first_name": _("Your first name"),
        "email": _("Your email"),
    },
}
_MODELS = {"contact": Contact, "company": Company, "deal": Deal, "ticket": Ticket}


@dataclass
class Context:
    """The records tokens are filled from; any may be missing except the sender."""

    sender: User
    contact: Contact | None = None
    company: Company | None = None
    deal: Deal | None = None
    ticket: Ticket | None = None


@dataclass
class Filled:
    """Text with its tokens filled, and the keys ("contact.first_name") of those left missing,
    each once, in the order they first appear."""

    text: str
    missing: list[str] = field(default_factory=list)


def label(key: str) -> str:
    """The words for a token key, for the list of missing ones."""
    kind, _sep, name = key.partition(".")
    return str(FIELDS.get(kind, {}).get(name) or _("Unknown token"))


def token_text(key: str) -> str:
    return "{{ " + key + " }}"


def menu() -> list[tuple[str, str]]:
    """Every token with its words, for the menu that inserts them."""
    return [
        (token_text(f"{kind}.{name}"), str(words))
        for kind, names in FIELDS.items()
        for name, words in names.items()
    ]


def context_for(user: User, record: Record | None, recipients=()) -> Context:
    """The records a `user` writing about `record` to `recipients` fills tokens from."""
    context = Context(sender=user)
    if record is not None and record.kind in _MODELS:
        setattr(context, record.kind, record.typed)
    recipient = _recipient_contact(user, recipients)
    if recipient is not None:
        context.contact = recipient
    if record is not None:
        _fill_from_associations(context, user, record)
    if context.contact is not None and context.company is None:
        context.company = _first_associated(user, context.contact, RecordKind.COMPANY)
    return context


def contexts_for_contacts(pairs: list[tuple[User, Contact]]) -> list[Context]:
    """`context_for(user, contact)` for many (sender, contact) pairs, in order, in a number of
    queries that does not grow with the pairs: one a sender for the associated records it may
    see (`selectors.first_associated_many`), then one a kind for the companies, deals and
    tickets among them."""
    kinds = (RecordKind.COMPANY, RecordKind.DEAL, RecordKind.TICKET)
    firsts: dict[tuple[int, int], dict[str, int]] = {}  # (user, contact) -> kind -> record
    for user in {sender.pk: sender for sender, _contact in pairs}.values():
        contacts = {contact.pk for sender, contact in pairs if sender.pk == user.pk}
        for contact_id, found in selectors.first_associated_many(user, contacts, kinds).items():
            firsts[(user.pk, contact_id)] = found
    typed = {
        kind: _MODELS[kind].objects.in_bulk(ids)
        for kind in kinds
        if (ids := {found[kind] for found in firsts.values() if kind in found})
    }
    contexts = []
    for user, contact in pairs:
        context = Context(sender=user, contact=contact)
        for kind, record_id in firsts.get((user.pk, contact.pk), {}).items():
            setattr(context, kind, typed[kind][record_id])
        contexts.append(context)
    return contexts


def _recipient_contact(user: User, recipients) -> Contact | None:
    owners = selectors.contacts_by_address([a.strip().lower() for a in recipients if a.strip()])
    if not owners:
        return None
    visible = visible_to(user, Contact.objects.filter(pk__in=set(owners.values())))
    by_pk = {c.pk: c for c in visible}
    for address in recipients:
        contact = by_pk.get(owners.get(address.strip().lower()))
        if contact is not None:
            return contact
    return None


def _fill_from_associations(context: Context, user: User, record: Record) -> None:
    for group in selectors.associations_for(user, record):
        kind = group.record_type.kind
        if kind in _MODELS and getattr(context, kind) is None and group.records:
            setattr(context, kind, _MODELS[kind].objects.get(pk=group.records[0].pk))


def _first_associated(user: User, record: Record, kind: str):
    for group in selectors.associations_for(user, record):
        if group.record_type.kind == kind and group.records:
            return _MODELS[kind].objects.get(pk=group.records[0].pk)
    return None


def value(context: Context, kind: str, name: str) -> str:
    """The text of one token for this context ("" when the record or the value is missing)."""
    if name not in FIELDS.get(kind, {}):
        return ""
    if kind == "sender":
        user = context.sender
        return {"name": user.display_name, "first_name": user.first_name, "email": user.email}[
            name
        ] or ""
    record = getattr(context, kind)
    if record is None:
        return ""
    display = getattr(record, f"get_{name}_display", None)
    raw = display() if display is not None else getattr(record, name, "")
    if raw is None or raw == "":
        return ""
    return str(formats.localize(raw)) if not isinstance(raw, str) else raw.strip()


def _fill(text: str, context: Context, missing: list[str], *, html: bool) -> str:
    def replace(match) -> str:
        found = value(context, match["kind"], match["field"])
        if found:
            return escape(found) if html else found
        fallback = next((g for g in (match["dq"], match["sq"], match["cq"]) if g is not None), None)
        if fallback is not None:
            return fallback  # written by the rep in the same text: already HTML in HTML
        key = f"{match['kind']}.{match['field']}"
        if key not in missing:
            missing.append(key)
        return match.group(0)

    return TOKEN.sub(replace, text)


def fill_text(text: str, context: Context) -> Filled:
    """A plain-text field (the subject) with its tokens filled."""
    missing: list[str] = []
    return Filled(_fill(text, context, missing, html=False), missing)


def fill_html(html: str, context: Context) -> Filled:
    """An HTML body with the tokens of its text filled, values escaped; the quoted email is
    left as it is."""
    missing: list[str] = []
    filled = body.map_text(html, lambda text: _fill(text, context, missing, html=True))
    return Filled(filled, missing)
