"""A transactional email's tokens: the composer's contact tokens (`{{ contact.first_name }}`,
with their fallbacks, mailboxes/composer/tokens.py) and custom ones (`{{ custom.order_id }}`),
which the single-send API fills from its customProperties. Nothing else: no sender, deal or
ticket (no rep writes it), and an unknown token is refused when the email is saved."""

import re
from dataclasses import dataclass, field

from django.utils.html import escape

from mailboxes.composer import body, tokens
from records.models import Contact

CUSTOM = re.compile(r"\{\{\s*custom\s*\.\s*(?P<name>\w+)\s*\}\}")
_BRACES = re.compile(r"\{\{.*?\}\}", re.DOTALL)


def _known(written: str) -> bool:
    if CUSTOM.fullmatch(written):
        return True
    match = tokens.TOKEN.fullmatch(written)
    return (
        match is not None
        and match["kind"] == "contact"
        and match["field"] in tokens.FIELDS["contact"]
    )


def unknown_tokens(text: str) -> list[str]:
    """The tokens in `text` no transactional email fills, each once, as written."""
    found: list[str] = []
    for written in _BRACES.findall(text or ""):
        if not _known(written) and written not in found:
            found.append(written)
    return found


def custom_names(*texts: str) -> list[str]:
    """The custom properties the texts ask for, each once, in order."""
    return list(dict.fromkeys(m["name"] for t in texts for m in CUSTOM.finditer(t or "")))


def menu() -> list[tuple[str, str]]:
    """The editor's Personalize menu: the contact's tokens only."""
    return [(k, w) for k, w in tokens.menu() if k.startswith("{{ contact.")]


@dataclass
class Rendered:
    subject: str
    html: str
    # Token keys left without a value ("contact.first_name", "custom.order_id").
    missing: list[str] = field(default_factory=list)


def render(
    subject: str, html: str, contact: Contact | None, custom: dict, *, blank_contact=False
) -> Rendered:
    """Subject and body with their tokens filled: custom values escaped in the HTML.
    `blank_contact`: a contact token without a value or fallback becomes "" (the API, as
    HubSpot renders it) instead of being left and listed as missing (a person's review)."""
    missing: list[str] = []

    def fill_custom(text: str, *, as_html: bool) -> str:
        def one(match) -> str:
            name = match["name"]
            if name not in custom or custom[name] is None:
                missing.append(f"custom.{name}")
                return match.group(0)
            value = str(custom[name])
            return escape(value) if as_html else value

        return CUSTOM.sub(one, text)

    context = tokens.Context(sender=None, contact=contact)
    subject_done = tokens.fill_text(fill_custom(subject, as_html=False), context)
    html_done = tokens.fill_html(
        body.map_text(html, lambda t: fill_custom(t, as_html=True)), context
    )
    subject_text, html_text = subject_done.text, html_done.text
    if blank_contact:
        subject_text = _blank(subject_text)
        html_text = body.map_text(html_text, _blank)
    else:
        missing += [*subject_done.missing, *html_done.missing]
    return Rendered(subject_text, html_text, list(dict.fromkeys(missing)))


def _blank(text: str) -> str:
    return tokens.TOKEN.sub(lambda m: "" if m["kind"] == "contact" else m.group(0), text)
