"""Signed, per-contact links to the email preferences page, the footer and the RFC 8058 headers
that sales and sequence email carry. Transactional email and ticket replies carry none.

The token is the contact's id signed with a TimestampSigner under its own salt, so a token made
for any other purpose of the product cannot open this page, and it expires after
PRIVACY_LINK_MAX_AGE_DAYS (default 400: long enough for an old email to still work).
"""

from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _

from records.models import Contact

from .constants import EXEMPT_CONTEXTS, SenderContext

SALT = "privacy.preferences-link"
DEFAULT_MAX_AGE_DAYS = 400
DEFAULT_BASE_URL = "http://127.0.0.1:8000"


class BadPreferencesLink(Exception):
    """A preferences token that is forged, tampered with, expired, or names no contact."""

    def __init__(self, problem: str):
        super().__init__(problem)
        self.problem = problem  # "expired", "invalid" or "unknown_contact"


def _signer() -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=SALT)


def _base_url() -> str:
    return getattr(settings, "CRM_BASE_URL", DEFAULT_BASE_URL).rstrip("/")


def _max_age() -> timedelta:
    return timedelta(days=getattr(settings, "PRIVACY_LINK_MAX_AGE_DAYS", DEFAULT_MAX_AGE_DAYS))


def preferences_token(contact: Contact) -> str:
    """Sign a token that opens `contact`'s preferences page."""
    return _signer().sign(str(contact.pk))


def contact_for_token(token: str) -> Contact:
    """Return the contact a token was made for (or the one it was merged into since), or raise
    BadPreferencesLink."""
    try:
        value = _signer().unsign(token, max_age=_max_age())
    except signing.SignatureExpired:
        raise BadPreferencesLink("expired") from None
    except (signing.BadSignature, ValueError):
        # ValueError: a validly signed value with no timestamp (a plain Signer's output).
        raise BadPreferencesLink("invalid") from None
    contact = None
    if value.isdigit():
        # A contact merged into another since the link was sent: the link follows the person.
        contact = (
            Contact.objects.filter(pk=int(value)).first()
            or Contact.objects.filter(merged_ids__merged_id=int(value)).first()
        )
    if contact is None:
        raise BadPreferencesLink("unknown_contact")
    return contact


def preferences_url(contact: Contact) -> str:
    """Return the absolute URL of the contact's email preferences page (uses CRM_BASE_URL)."""
    path = reverse("privacy:preferences", args=[preferences_token(contact)])
    return f"{_base_url()}{path}"


def one_click_url(contact: Contact) -> str:
    """Return the absolute URL a mail client POSTs to for one-click unsubscribe (RFC 8058)."""
    path = reverse("privacy:one-click", args=[preferences_token(contact)])
    return f"{_base_url()}{path}"


def _needs_links(context: str) -> bool:
    return SenderContext(context) not in EXEMPT_CONTEXTS


def unsubscribe_footer(contact: Contact, context: str) -> tuple[str, str] | None:
    """Return the (HTML, plain text) footer with the unsubscribe / preferences link for an email
    to `contact` in `context`; None for transactional email and ticket replies."""
    if not _needs_links(context):
        return None
    url = preferences_url(contact)
    # The sentence keeps its link, as a template's blocktranslate would: the url is escaped.
    sentence = format_html(
        _(
            'Don\'t want these emails? <a href="{url}">Unsubscribe or manage your email '
            "preferences</a>."
        ),
        url=url,
    )
    html = format_html('<p style="font-size:12px;color:#66768a;margin-top:24px">{}</p>', sentence)
    words = _("Unsubscribe or manage your email preferences: %(url)s") % {"url": url}
    text = f"\n\n--\n{words}\n"
    return str(html), text


def list_unsubscribe_headers(contact: Contact, context: str) -> dict[str, str]:
    """Return the List-Unsubscribe and List-Unsubscribe-Post headers (RFC 8058); {} if exempt.

    Mail clients POST "List-Unsubscribe=One-Click" to the URL; the message must also be DKIM
    signed covering these headers for Gmail and Yahoo to show the button.
    """
    if not _needs_links(context):
        return {}
    return {
        "List-Unsubscribe": f"<{one_click_url(contact)}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
