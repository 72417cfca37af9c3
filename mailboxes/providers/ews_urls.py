"""Work out Exchange Web Services URLs for the Exchange connect form.

Plain string work, without exchangelib (slow to import), so forms and views can call it.
"""

from __future__ import annotations

import re
from typing import NamedTuple
from urllib.parse import urlsplit

from mailboxes.providers.base import Sentence, gettext_noop

EWS_PATH = "/EWS/Exchange.asmx"
# exchangelib's Autodiscovery.URL_PATH: it only speaks SOAP autodiscover.
AUTODISCOVER_PATH = "/autodiscover/autodiscover.svc"
# Microsoft 365 webmail hosts: their mailboxes answer EWS on one shared endpoint.
MICROSOFT_365_HOSTS = ("outlook.office.com", "outlook.office365.com", "outlook.live.com")
MICROSOFT_365_EWS_URL = "https://outlook.office365.com/EWS/Exchange.asmx"
HOST_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")


class AutodiscoverStep(NamedTuple):
    """One place autodiscover looks, in the words the connect form shows (`how` a sentence
    to translate where it is shown)."""

    target: str
    how: str


def ews_url_from_webmail(url: str) -> str | None:
    """Return the likely EWS URL for a pasted Outlook Web App address, or None.

    Accepts what users copy from the browser: https://mail.example.com/owa/,
    .../owa/#path=/mail, http://webmail.example.com/OWA/auth/logon.aspx?..., a bare host,
    or an EWS URL already. EWS lives on the same host (and port) as OWA, always over
    https: Exchange refuses Basic credentials on plain http by default. Returns None for
    text that has no usable host (an email address, words, an empty field).
    """
    text = (url or "").strip()
    if not text or any(c.isspace() for c in text):
        return None
    if "://" not in text:
        if "@" in text.split("/", 1)[0]:
            return None  # an email address, not a web address
        text = "https://" + text
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https"):
        return None
    host = normalize_host(parts.hostname or "")
    if host is None:
        return None
    if host in MICROSOFT_365_HOSTS:
        return MICROSOFT_365_EWS_URL
    # Only an https port carries over: a port for plain-http OWA says nothing about TLS.
    keep_port = parts.scheme.lower() == "https" and port not in (None, 443)
    netloc = f"{host}:{port}" if keep_port else host
    return f"https://{netloc}{EWS_PATH}"


def normalize_host(host: str) -> str | None:
    """Return a lower-case ASCII host name (IDNA for non-ASCII), or None if it is not one."""
    host = host.strip().rstrip(".").lower()
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    # Single-label names are allowed: intranet servers are often called just "exchange01".
    if not host or len(host) > 253 or not all(HOST_LABEL.fullmatch(p) for p in host.split(".")):
        return None
    return host


def autodiscover_candidates(email: str) -> list[AutodiscoverStep]:
    """List where exchangelib 5.6's autodiscover looks for `email`, in the order it tries.

    Each host is looked up in DNS first and skipped when it has no A record. The first
    valid answer wins; the UI shows this list when all of them failed.
    """
    domain = email.rsplit("@", 1)[-1].strip().rstrip(".").lower()
    return [
        AutodiscoverStep(f"https://{domain}{AUTODISCOVER_PATH}", "POST (GetUserSettings)"),
        AutodiscoverStep(
            f"https://autodiscover.{domain}{AUTODISCOVER_PATH}", "POST (GetUserSettings)"
        ),
        AutodiscoverStep(
            f"http://autodiscover.{domain}{AUTODISCOVER_PATH}",
            Sentence(gettext_noop("GET, following only a redirect to an https address")),
        ),
        AutodiscoverStep(
            f"_autodiscover._tcp.{domain}",
            Sentence(gettext_noop("DNS SRV lookup; a port-443 target gets the same POST")),
        ),
    ]
