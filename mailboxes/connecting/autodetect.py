"""Guess who hosts an address and where its IMAP/SMTP servers are.

Used by the "Connect personal email" flow. Nothing here imports Django: the caller passes in
what lives in the database (an admin's server settings for the domain), and every network
dependency (DNS resolver, HTTP GET, TCP probe) is a parameter, so tests point them at local
fakes. Nothing is cached between calls, and network trouble never raises: a failed lookup only
makes the guess less specific.
"""

from __future__ import annotations

import functools
import re
import socket
import ssl
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote, urljoin, urlsplit

import dns.resolver
import requests

from mailboxes.dns import DnsLookup
from mailboxes.providers import GuardedAdapter, NetworkPolicy, guarded_http, open_connection
from mailboxes.providers.base import (
    SECURITY_MODES,
    ConnectionSettings,
    Security,
    Sentence,
    gettext_noop,
)

ProviderKind = Literal["gmail", "office365", "exchange", "imap"]
Source = Literal["admin", "known", "autoconfig", "srv", "probe", "none"]
# "other" is an autoconfig username template that is neither the address nor its local part.
UsernameForm = Literal["email", "local_part", "other"]
Protocol = Literal["imap", "smtp"]

# http_get(url, timeout) -> (status, body); may raise OSError (requests' errors are OSErrors).
HttpGet = Callable[[str, float], tuple[int, bytes]]
# probe(host, port, security, protocol) -> whether a server of that kind answered there.
Probe = Callable[[str, int, Security, Protocol], bool]

# The connect form waits on these while the user watches a spinner (DNS: mailboxes/dns.py).
PROBE_TIMEOUT = 2.0
HTTP_TIMEOUT = 3.0
# A clientConfig file is a few KB; anything far larger is not one.
MAX_AUTOCONFIG_BYTES = 256 * 1024
MAX_REDIRECTS = 3

IMAP_PROBE_PORTS: tuple[tuple[int, Security], ...] = ((993, "ssl"), (143, "starttls"))


SMTP_PROBE_PORTS: tuple[tuple[int, Security], ...] = ((465, "ssl"), (587, "starttls"))

# Offered when nothing tells us who hosts the domain.
EVERY_OTHER_PROVIDER: tuple[ProviderKind, ...] = ("gmail", "office365", "exchange")

AMAZON_REFUSAL = Sentence(
    gettext_noop(
        "Amazon SES and Amazon WorkMail can't be connected: SES only relays mail and has no "
        "mailbox to read, and WorkMail mailboxes are not supported. Connect an address hosted "
        "with Google Workspace, Office 365, Exchange or another IMAP provider instead, or ask "
        "your IT team to move this domain's mail to one of them."
    )
)


# -- results -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Recommendation:
    """Say which provider the connect flow should offer first for an address, and why.

    `provider` is None only when the address is `refused` (Amazon SES / WorkMail): `refused`
    then holds the explanation to show instead of a connect button. `alternatives` are the
    other providers worth offering next to the recommended one. `why` is one sentence for
    the user; `mx_host` is the MX host that decided, when DNS was consulted.
    """

    domain: str
    provider: ProviderKind | None
    why: Sentence
    alternatives: tuple[ProviderKind, ...] = ()
    refused: Sentence | None = None
    mx_host: str | None = None


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Name one server: host, port, security and the form of the login it expects."""

    host: str
    port: int
    security: Security
    username_form: UsernameForm = "email"
    # Autoconfig may spell a login the two standard forms don't cover.
    username_template: str = ""


@dataclass(frozen=True, slots=True)
class ServerGuess:
    """Hold the IMAP/SMTP settings to pre-fill for an address, and where they came from.

    `source` names the step that found the IMAP side (or the SMTP side when no IMAP server
    was found); `smtp_source` the step that found SMTP, usually the same. When a side was not
    found its host is "" and its port and security are None: the form then opens its
    advanced options. `username`/`smtp_username` are the logins to pre-fill and
    `username_form`/`smtp_username_form` say whether they are the address or its local part.
    `notes` are sentences for the user (app passwords, enabling IMAP first).
    """

    email: str
    source: Source
    smtp_source: Source = "none"
    imap_host: str = ""
    imap_port: int | None = None
    imap_security: Security | None = None
    smtp_host: str = ""
    smtp_port: int | None = None
    smtp_security: Security | None = None
    username: str = ""
    smtp_username: str = ""
    username_form: UsernameForm = "email"
    smtp_username_form: UsernameForm = "email"
    notes: tuple[str, ...] = ()

    @property
    def complete(self) -> bool:
        """Return whether both IMAP and SMTP servers were found."""
        return bool(self.imap_host and self.smtp_host)

    def connection_settings(self, password: str, **options: Any) -> ConnectionSettings:
        """Build the settings to verify, with `options` for ConnectionSettings' extras.

        Raise ValueError when a side is missing: the user must fill the advanced options.
        """
        if not self.complete:
            raise ValueError("the IMAP and SMTP servers are not both known")
        smtp_username = None if self.smtp_username == self.username else self.smtp_username
        return ConnectionSettings(
            email=self.email,
            username=self.username,
            password=password,
            imap_host=self.imap_host,
            imap_port=self.imap_port,
            imap_security=self.imap_security,
            smtp_host=self.smtp_host,
            smtp_port=self.smtp_port,
            smtp_security=self.smtp_security,
            smtp_username=options.pop("smtp_username", smtp_username),
            **options,
        )


@dataclass(frozen=True, slots=True)
class KnownProvider:
    """Describe a mail service whose servers are published (Thunderbird ISPDB data)."""

    name: str
    provider: ProviderKind
    imap: Endpoint
    smtp: Endpoint
    note: Sentence | None = None


# -- well-known providers ----------------------------------------------------------------

_APP_PASSWORD = gettext_noop(
    "If your account uses two-step verification, sign in with an app password from "
    "%(name)s's security settings, not your usual password."
)

GMAIL = KnownProvider(
    "Gmail",
    "gmail",
    Endpoint("imap.gmail.com", 993, "ssl"),
    Endpoint("smtp.gmail.com", 465, "ssl"),
    # Google turned off plain-password IMAP for personal and Workspace accounts alike.
    note=Sentence(
        gettext_noop(
            "Over IMAP, Google accepts only an app password (Google Account > Security > "
            "App passwords); connecting with Google sign-in avoids that."
        )
    ),
)
GOOGLE_WORKSPACE = KnownProvider(
    "Google Workspace", "gmail", GMAIL.imap, GMAIL.smtp, note=GMAIL.note
)
OFFICE365 = KnownProvider(
    "Office 365",
    "office365",
    Endpoint("outlook.office365.com", 993, "ssl"),
    Endpoint("smtp.office365.com", 587, "starttls"),
    # Microsoft has been retiring password sign-in for IMAP/SMTP; whether a tenant still
    # allows it varies, so say what to do when it is refused.
    note=Sentence(
        gettext_noop(
            "Microsoft often refuses passwords over IMAP; if sign-in fails, connect with "
            "Office 365 (Microsoft sign-in) instead."
        )
    ),
)
OUTLOOK_COM = KnownProvider("Outlook.com", "office365", OFFICE365.imap, OFFICE365.smtp)
YAHOO = KnownProvider(
    "Yahoo Mail",
    "imap",
    Endpoint("imap.mail.yahoo.com", 993, "ssl"),
    Endpoint("smtp.mail.yahoo.com", 465, "ssl"),
    note=Sentence(_APP_PASSWORD, name="Yahoo"),
)
ICLOUD = KnownProvider(
    "iCloud Mail",
    "imap",
    # Apple wants the bare name for IMAP but the full address for SMTP.
    Endpoint("imap.mail.me.com", 993, "ssl", "local_part"),
    Endpoint("smtp.mail.me.com", 587, "starttls"),
    note=Sentence(
        gettext_noop(
            "iCloud needs an app-specific password (appleid.apple.com > Sign-In and Security)."
        )
    ),
)
AOL = KnownProvider(
    "AOL Mail",
    "imap",
    Endpoint("imap.aol.com", 993, "ssl"),
    Endpoint("smtp.aol.com", 465, "ssl"),
    note=Sentence(_APP_PASSWORD, name="AOL"),
)
GMX_NET = KnownProvider(
    "GMX",
    "imap",
    Endpoint("imap.gmx.net", 993, "ssl"),
    Endpoint("mail.gmx.net", 465, "ssl"),
    note=Sentence(gettext_noop("Allow POP3 & IMAP access once in your GMX e-mail settings first.")),
)
# gmx.com belongs to the same company but is served by different hosts.
GMX_COM = KnownProvider(
    "GMX",
    "imap",
    Endpoint("imap.gmx.com", 993, "ssl"),
    Endpoint("mail.gmx.com", 465, "ssl"),
    note=GMX_NET.note,
)
WEB_DE = KnownProvider(
    "WEB.DE",
    "imap",
    Endpoint("imap.web.de", 993, "ssl", "local_part"),
    Endpoint("smtp.web.de", 465, "ssl", "local_part"),
    note=Sentence(
        gettext_noop("Allow POP3 & IMAP access once in your WEB.DE e-mail settings first.")
    ),
)
LIBERO = KnownProvider(
    "Libero Mail",
    "imap",
    Endpoint("imapmail.libero.it", 993, "ssl"),
    Endpoint("smtp.libero.it", 465, "ssl"),
)
ZOHO = KnownProvider(
    "Zoho Mail",
    "imap",
    Endpoint("imap.zoho.com", 993, "ssl"),
    Endpoint("smtp.zoho.com", 465, "ssl"),
    note=Sentence(gettext_noop("Turn on IMAP access in Zoho Mail's settings first.")),
)
FASTMAIL = KnownProvider(
    "Fastmail",
    "imap",
    Endpoint("imap.fastmail.com", 993, "ssl"),
    Endpoint("smtp.fastmail.com", 465, "ssl"),
    note=Sentence(
        gettext_noop(
            "Fastmail needs an app password (Settings > Privacy & Security) for other apps."
        )
    ),
)

KNOWN_DOMAINS: dict[str, KnownProvider] = {
    "gmail.com": GMAIL,
    "googlemail.com": GMAIL,
    "msn.com": OUTLOOK_COM,
    "windowslive.com": OUTLOOK_COM,
    "ymail.com": YAHOO,
    "rocketmail.com": YAHOO,
    "icloud.com": ICLOUD,
    "me.com": ICLOUD,
    "mac.com": ICLOUD,
    "aim.com": AOL,
    **dict.fromkeys(("gmx.net", "gmx.de", "gmx.at", "gmx.ch", "gmx.eu"), GMX_NET),
    **dict.fromkeys(("gmx.com", "gmx.us", "gmx.co.uk", "gmx.fr", "gmx.es", "gmx.it"), GMX_COM),
    "web.de": WEB_DE,
    **dict.fromkeys(("libero.it", "iol.it", "blu.it", "inwind.it", "giallo.it"), LIBERO),
    "zoho.com": ZOHO,
    "zohomail.com": ZOHO,
    "fastmail.com": FASTMAIL,
    "fastmail.fm": FASTMAIL,
}

# Country variants (hotmail.it, live.co.uk, yahoo.com.au, aol.de). The suffix is limited to
# public-suffix shapes so that a company's "live.acme.org" is not taken for Outlook.com.
_COUNTRY = r"\.(?:com|net|[a-z]{2}|co\.[a-z]{2}|com\.[a-z]{2})"
KNOWN_DOMAIN_PATTERNS: tuple[tuple[re.Pattern[str], KnownProvider], ...] = (
    (re.compile(rf"(?:hotmail|live|outlook){_COUNTRY}"), OUTLOOK_COM),
    (re.compile(rf"yahoo{_COUNTRY}"), YAHOO),
    (re.compile(rf"aol{_COUNTRY}"), AOL),
)

# Mail services recognised by the MX host of a company's own domain.
MX_FAMILIES: dict[str, KnownProvider | None] = {
    "google": GOOGLE_WORKSPACE,
    "microsoft": OFFICE365,
    "amazon": None,
    "zoho": ZOHO,
    "fastmail": FASTMAIL,
}
_AMAZON_MX = re.compile(r"inbound-smtp\.[a-z0-9-]+\.amazonaws\.com")


def known_provider(domain: str) -> KnownProvider | None:
    """Return the well-known consumer mail service that owns `domain`, if any."""
    domain = domain.lower().rstrip(".")
    if domain in KNOWN_DOMAINS:
        return KNOWN_DOMAINS[domain]
    for pattern, known in KNOWN_DOMAIN_PATTERNS:
        if pattern.fullmatch(domain):
            return known
    return None


def mx_family(host: str) -> str | None:
    """Return which hosted mail service an MX host belongs to (a key of MX_FAMILIES)."""
    host = host.lower().rstrip(".")
    # Workspace MX: aspmx.l.google.com and alt*, aspmx2.googlemail.com, smtp.google.com.
    if _under(host, "google.com") or _under(host, "googlemail.com"):
        return "google"
    # Office 365 tenants use <tenant>.mail.protection.outlook.com; Outlook.com custom
    # domains use *.olc.protection.outlook.com.
    if _under(host, "outlook.com"):
        return "microsoft"
    if _AMAZON_MX.fullmatch(host):
        return "amazon"
    if _under(host, "zoho.com"):
        return "zoho"
    if _under(host, "messagingengine.com"):
        return "fastmail"
    return None


def _under(host: str, suffix: str) -> bool:
    # A bare endswith() would take "evilgoogle.com" for Google.
    return host == suffix or host.endswith("." + suffix)


# -- addresses ---------------------------------------------------------------------------

_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")


def split_address(email: str) -> tuple[str, str] | None:
    """Return (local part, ASCII domain) of an address, or None when it is not one.

    The domain is lower-cased and IDNA-encoded, ready for DNS and URLs.
    """
    local, at, domain = email.strip().rpartition("@")
    domain = domain.strip().rstrip(".").lower()
    if not at or not local or not domain or any(c.isspace() for c in local):
        return None
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        return None
    if len(domain) > 253 or not all(_LABEL.fullmatch(label) for label in domain.split(".")):
        return None
    return local, domain


def _username(email: str, form: UsernameForm, template: str = "") -> str:
    local, _, domain = email.strip().rpartition("@")
    if template:
        return (
            template.replace("%EMAILADDRESS%", email.strip())
            .replace("%EMAILLOCALPART%", local)
            .replace("%EMAILDOMAIN%", domain)
        )
    return local if form == "local_part" else email.strip()


# -- DNS ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _MailHost:
    family: str | None
    host: str | None
    status: Literal["ok", "nxdomain", "nodata", "null", "failed"]
    detail: str = ""


def _lookup_mail_host(domain: str, lookup: DnsLookup) -> _MailHost:
    answer = lookup.query(domain, "MX")
    if answer.status != "ok":
        return _MailHost(None, None, answer.status, answer.detail)
    records = sorted(answer.records, key=lambda r: (r.preference, r.exchange.to_text()))
    # The most preferred MX hosts receive the mail; backups are often a third party.
    best = [
        r.exchange.to_text().rstrip(".").lower()
        for r in records
        if r.preference == records[0].preference
    ]
    hosts = [host for host in best if host]
    if not hosts:
        # RFC 7505 null MX: "0 ." declares that the domain receives no mail.
        return _MailHost(None, None, "null")
    for host in hosts:
        family = mx_family(host)
        if family:
            return _MailHost(family, host, "ok")
    return _MailHost(None, hosts[0], "ok")


# -- recommendation ----------------------------------------------------------------------


def recommend_provider(
    email: str, *, resolver: dns.resolver.Resolver | None = None
) -> Recommendation:
    """Recommend how to connect `email`: Gmail, Office 365, Exchange or IMAP, or refuse it.

    Known consumer domains are decided without DNS; otherwise the domain's most preferred MX
    host decides: Google → gmail, Microsoft → office365, Amazon SES / WorkMail → refused,
    anything else → imap with Exchange offered beside it. DNS trouble never raises: the
    answer falls back to imap with every other provider offered and the reason in `why`.
    `resolver` defaults to the system's, with 2-second timeouts.
    """
    parts = split_address(email)
    if parts is None:
        return Recommendation(
            domain="",
            provider="imap",
            why=Sentence(gettext_noop("That doesn't look like a complete email address.")),
            alternatives=EVERY_OTHER_PROVIDER,
        )
    domain = parts[1]
    known = known_provider(domain)
    if known is not None:
        return _recommend_known(domain, known)

    mail_host = _lookup_mail_host(domain, DnsLookup(resolver))
    if mail_host.status == "ok" and mail_host.family == "amazon":
        return Recommendation(
            domain=domain,
            provider=None,
            why=Sentence(
                gettext_noop(
                    "Your domain's mail is received by Amazon SES / WorkMail (MX %(mx)s)."
                ),
                mx=mail_host.host,
            ),
            refused=AMAZON_REFUSAL,
            mx_host=mail_host.host,
        )
    if mail_host.status == "ok" and mail_host.family:
        known = MX_FAMILIES[mail_host.family]
        why = Sentence(
            gettext_noop("Your domain's mail is handled by %(name)s (MX %(mx)s)."),
            name=known.name,
            mx=mail_host.host,
        )
        return Recommendation(
            domain=domain,
            provider=known.provider,
            why=why,
            alternatives=_ALTERNATIVES[known.provider],
            mx_host=mail_host.host,
        )
    if mail_host.status == "ok":
        return Recommendation(
            domain=domain,
            provider="imap",
            why=Sentence(
                gettext_noop(
                    "Your domain's mail is handled by %(mx)s, which is neither Google nor "
                    "Microsoft: connect over IMAP/SMTP, or choose Exchange if your company "
                    "runs its own Exchange server."
                ),
                mx=mail_host.host,
            ),
            alternatives=("exchange",),
            mx_host=mail_host.host,
        )
    if mail_host.status == "nodata":
        why = Sentence(
            gettext_noop(
                "%(domain)s publishes no mail servers (no MX records): connect over IMAP/SMTP, "
                "or choose Exchange if your company runs its own Exchange server."
            ),
            domain=domain,
        )
        return Recommendation(domain, "imap", why, ("exchange",))
    if mail_host.status == "null":
        why = Sentence(
            gettext_noop(
                "%(domain)s declares that it receives no email (null MX); check the address."
            ),
            domain=domain,
        )
        return Recommendation(domain, "imap", why, EVERY_OTHER_PROVIDER)
    if mail_host.status == "nxdomain":
        why = Sentence(
            gettext_noop("The domain %(domain)s doesn't seem to exist; check the address."),
            domain=domain,
        )
        return Recommendation(domain, "imap", why, EVERY_OTHER_PROVIDER)
    why = Sentence(
        gettext_noop(
            "We couldn't look up who handles mail for %(domain)s (%(detail)s): choose your "
            "provider, or connect over IMAP/SMTP."
        ),
        domain=domain,
        detail=mail_host.detail,
    )
    return Recommendation(domain, "imap", why, EVERY_OTHER_PROVIDER)


# What to offer beside each recommendation. Gmail also speaks IMAP (with an app password);
# an Office 365 MX may front on-premises Exchange mailboxes in a hybrid setup.
_ALTERNATIVES: dict[ProviderKind, tuple[ProviderKind, ...]] = {
    "gmail": ("imap",),
    "office365": ("exchange",),
    "exchange": ("imap",),
    "imap": (),
}


def _recommend_known(domain: str, known: KnownProvider) -> Recommendation:
    if known.provider == "imap":
        why = Sentence(
            gettext_noop(
                "%(domain)s addresses are %(name)s accounts, which connect over IMAP/SMTP."
            ),
            domain=domain,
            name=known.name,
        )
        if known.note:
            why = Sentence("%(why)s %(note)s", why=why, note=known.note)
        return Recommendation(domain, "imap", why)
    if known is OUTLOOK_COM:
        # Consumer Outlook.com accounts have no on-premises Exchange behind them.
        why = Sentence(
            gettext_noop(
                "%(domain)s addresses are Outlook.com accounts; connect with Microsoft sign-in."
            ),
            domain=domain,
        )
        return Recommendation(domain, "office365", why)
    why = Sentence(
        gettext_noop("%(domain)s addresses are %(name)s accounts."), domain=domain, name=known.name
    )
    return Recommendation(domain, known.provider, why, _ALTERNATIVES[known.provider])


# -- server detection --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Found:
    imap: Endpoint | None
    smtp: Endpoint | None
    notes: tuple[str, ...] = ()


def detect_servers(
    email: str,
    *,
    domain_settings: Mapping[str, Any] | object | None = None,
    resolver: dns.resolver.Resolver | None = None,
    http_get: HttpGet | None = None,
    probe: Probe | None = None,
    network: NetworkPolicy | None = None,
) -> ServerGuess:
    """Find the IMAP and SMTP servers for `email`, trying each source in turn.

    Order: the admin's `domain_settings` (a mapping or object with imap_host/imap_port/
    imap_security/smtp_host/smtp_port/smtp_security, optionally username_form), the
    well-known providers (by domain, then by MX host), the domain's autoconfig file, RFC
    6186/8314 SRV records, then probing imap./mail./bare and smtp./mail. host names on the
    standard ports. A side missing from one source is looked for in the next ones, so SMTP
    may come from a later source than IMAP. Never raises: when nothing is found the guess
    has source "none" and empty hosts. `http_get` defaults to `fetch_url`, `probe` to
    `probe_server`, `resolver` to the system's with 2-second timeouts. `network`, when given,
    is the policy the default fetch and probe connect under: the names come from the
    address's DNS, which whoever typed the address may control.
    """
    parts = split_address(email)
    if parts is None:
        return ServerGuess(email=email, source="none")
    email = email.strip()
    domain = parts[1]
    lookup = DnsLookup(resolver)
    stages: tuple[tuple[Source, Callable[[], _Found | None]], ...] = (
        ("admin", lambda: _from_admin(domain_settings)),
        ("known", lambda: _from_known(domain, lookup)),
        (
            "autoconfig",
            lambda: _from_autoconfig(
                email, domain, http_get or functools.partial(fetch_url, network=network)
            ),
        ),
        ("srv", lambda: _from_srv(domain, lookup)),
        (
            "probe",
            lambda: _from_probe(
                domain, lookup, probe or functools.partial(probe_server, network=network)
            ),
        ),
    )
    imap: Endpoint | None = None
    smtp: Endpoint | None = None
    imap_source: Source = "none"
    smtp_source: Source = "none"
    notes: list[str] = []
    for source, stage in stages:
        found = stage()
        if found is None:
            continue
        used = False
        if imap is None and found.imap is not None:
            imap, imap_source, used = found.imap, source, True
        if smtp is None and found.smtp is not None:
            smtp, smtp_source, used = found.smtp, source, True
        if used:
            notes.extend(note for note in found.notes if note not in notes)
        if imap is not None and smtp is not None:
            break
    return _guess(email, imap, smtp, imap_source, smtp_source, tuple(notes))


def _guess(
    email: str,
    imap: Endpoint | None,
    smtp: Endpoint | None,
    imap_source: Source,
    smtp_source: Source,
    notes: tuple[str, ...],
) -> ServerGuess:
    # Without a known SMTP login form, the IMAP one is the likeliest.
    login = imap or smtp
    smtp_login = smtp or imap
    username = _username(email, login.username_form, login.username_template) if login else ""
    smtp_username = (
        _username(email, smtp_login.username_form, smtp_login.username_template)
        if smtp_login
        else ""
    )
    return ServerGuess(
        email=email,
        source=imap_source if imap else smtp_source,
        smtp_source=smtp_source,
        imap_host=imap.host if imap else "",
        imap_port=imap.port if imap else None,
        imap_security=imap.security if imap else None,
        smtp_host=smtp.host if smtp else "",
        smtp_port=smtp.port if smtp else None,
        smtp_security=smtp.security if smtp else None,
        username=username,
        smtp_username=smtp_username,
        username_form=login.username_form if login else "email",
        smtp_username_form=smtp_login.username_form if smtp_login else "email",
        notes=notes,
    )


def _from_admin(settings: Mapping[str, Any] | object | None) -> _Found | None:
    if settings is None:
        return None
    if isinstance(settings, Mapping):
        get = settings.get
    else:

        def get(name: str, default: Any = None) -> Any:
            return getattr(settings, name, default)

    form = get("username_form") or "email"
    smtp_form = get("smtp_username_form") or form
    imap = _endpoint(get("imap_host"), get("imap_port"), get("imap_security"), form)
    smtp = _endpoint(get("smtp_host"), get("smtp_port"), get("smtp_security"), smtp_form)
    return _Found(imap, smtp) if imap or smtp else None


def _endpoint(host: Any, port: Any, security: Any, form: Any = "email") -> Endpoint | None:
    # Admin and autoconfig data arrive as loosely typed text; anything malformed is skipped
    # rather than pre-filled into a form that would then fail verification.
    host = str(host or "").strip().rstrip(".").lower()
    try:
        port = int(port)
    except (TypeError, ValueError):
        return None
    security = str(security or "").lower()
    if not _valid_host(host) or not 0 < port < 65536 or security not in SECURITY_MODES:
        return None
    if form not in ("email", "local_part"):
        form = "email"
    return Endpoint(host, port, security, form)


def _valid_host(host: str) -> bool:
    return 0 < len(host) <= 253 and all(_LABEL.fullmatch(label) for label in host.split("."))


def _from_known(domain: str, lookup: DnsLookup) -> _Found | None:
    known = known_provider(domain)
    if known is None:
        mail_host = _lookup_mail_host(domain, lookup)
        known = MX_FAMILIES.get(mail_host.family or "")
    if known is None:
        return None
    return _Found(known.imap, known.smtp, (known.note,) if known.note else ())


def autoconfig_urls(email: str, domain: str) -> tuple[str, str]:
    """Return the two ISP autoconfig URLs Thunderbird tries for a domain, in order.

    Only https: a plain-http answer could be forged to send the user's password elsewhere.
    """
    return (
        f"https://autoconfig.{domain}/mail/config-v1.1.xml?emailaddress={quote(email, safe='')}",
        f"https://{domain}/.well-known/autoconfig/mail/config-v1.1.xml",
    )


def _from_autoconfig(email: str, domain: str, http_get: HttpGet) -> _Found | None:
    for url in autoconfig_urls(email, domain):
        try:
            status, body = http_get(url, HTTP_TIMEOUT)
        except Exception:  # an injected client may raise anything, and we never raise
            continue
        if status != 200:
            continue
        found = parse_autoconfig(body)
        if found is not None:
            return _Found(found[0], found[1])
    return None


_SOCKET_TYPES: dict[str, Security] = {"ssl": "ssl", "starttls": "starttls", "plain": "none"}
_FORMS: dict[str, UsernameForm] = {"%EMAILADDRESS%": "email", "%EMAILLOCALPART%": "local_part"}


def parse_autoconfig(document: bytes | str) -> tuple[Endpoint | None, Endpoint | None] | None:
    """Return the preferred (IMAP, SMTP) endpoints of a clientConfig v1.1 document.

    Return None for anything that is not a usable clientConfig: malformed XML, no IMAP or
    SMTP server, or a document with a DTD. xml.etree expands internal entities, so a DTD
    is refused outright rather than risk an entity-expansion bomb (defusedxml is not a
    dependency). Servers are listed in preference order; the first TLS one wins and plain
    ones are used only when there is nothing else. Host names may use %EMAILDOMAIN%.
    """
    raw = document.encode("utf-8") if isinstance(document, str) else bytes(document)
    if len(raw) > MAX_AUTOCONFIG_BYTES:
        return None
    upper = raw.upper()
    if b"<!DOCTYPE" in upper or b"<!ENTITY" in upper:
        return None
    try:
        root = ET.fromstring(raw)
    except (ET.ParseError, ValueError):
        return None
    if root.tag != "clientConfig":
        return None
    provider = root.find("emailProvider")
    if provider is None:
        return None
    domain = (provider.findtext("domain") or provider.get("id") or "").strip()
    imap = _pick_server(provider.findall("incomingServer"), "imap", domain)
    smtp = _pick_server(provider.findall("outgoingServer"), "smtp", domain)
    if imap is None and smtp is None:
        return None
    return imap, smtp


def _pick_server(elements: list[ET.Element], kind: str, domain: str) -> Endpoint | None:
    endpoints = []
    for element in elements:
        if element.get("type") != kind:
            continue
        socket_type = (element.findtext("socketType") or "").strip().lower()
        host = (element.findtext("hostname") or "").replace("%EMAILDOMAIN%", domain)
        template = (element.findtext("username") or "%EMAILADDRESS%").strip()
        form = _FORMS.get(template, "other")
        endpoint = _endpoint(host, element.findtext("port"), _SOCKET_TYPES.get(socket_type))
        if endpoint is not None:
            endpoints.append(
                Endpoint(
                    endpoint.host,
                    endpoint.port,
                    endpoint.security,
                    form,
                    "" if form != "other" else template,
                )
            )
    encrypted = [e for e in endpoints if e.security != "none"]
    return (encrypted or endpoints or [None])[0]


# RFC 6186 services, implicit TLS first as RFC 8314 recommends.
SRV_SERVICES: tuple[tuple[str, Protocol, Security], ...] = (
    ("_imaps._tcp", "imap", "ssl"),
    ("_imap._tcp", "imap", "starttls"),
    ("_submissions._tcp", "smtp", "ssl"),
    ("_submission._tcp", "smtp", "starttls"),
)


def _from_srv(domain: str, lookup: DnsLookup) -> _Found | None:
    found: dict[Protocol, Endpoint] = {}
    for service, protocol, security in SRV_SERVICES:
        if protocol in found:
            continue
        answer = lookup.query(f"{service}.{domain}", "SRV")
        # Lowest priority first; among equals the heaviest, so the guess is deterministic
        # where a client would pick at random by weight.
        for record in sorted(answer.records, key=lambda r: (r.priority, -r.weight)):
            # A target of "." means the service is deliberately not offered.
            endpoint = _endpoint(record.target.to_text(), record.port, security)
            if endpoint is not None:
                found[protocol] = endpoint
                break
    if not found:
        return None
    return _Found(found.get("imap"), found.get("smtp"))


def _from_probe(domain: str, lookup: DnsLookup, probe: Probe) -> _Found | None:
    imap_candidates = [
        (host, port, security, "imap")
        for host in (f"imap.{domain}", f"mail.{domain}", domain)
        for port, security in IMAP_PROBE_PORTS
    ]
    smtp_candidates = [
        (host, port, security, "smtp")
        for host in (f"smtp.{domain}", f"mail.{domain}")
        for port, security in SMTP_PROBE_PORTS
    ]
    hosts = {host for host, *_ in imap_candidates + smtp_candidates}
    # Skip names DNS says don't exist: most domains have only one or two of them.
    existing = {host for host in hosts if lookup.exists(host)}
    candidates = [c for c in imap_candidates + smtp_candidates if c[0] in existing]
    if not candidates:
        return None

    def attempt(candidate: tuple[str, int, Security, Protocol]) -> bool:
        try:
            return bool(probe(*candidate))
        except Exception:  # an injected probe may raise anything, and we never raise
            return False

    # In parallel, so a firewalled domain costs one timeout, not one per port and host;
    # the preference order is applied to the results, not to the timing.
    with ThreadPoolExecutor(max_workers=len(candidates)) as pool:
        results = dict(zip(candidates, pool.map(attempt, candidates), strict=True))
    imap = next((c for c in imap_candidates if results.get(c)), None)
    smtp = next((c for c in smtp_candidates if results.get(c)), None)
    if imap is None and smtp is None:
        return None
    return _Found(
        Endpoint(imap[0], imap[1], imap[2]) if imap else None,
        Endpoint(smtp[0], smtp[1], smtp[2]) if smtp else None,
    )


# -- network defaults --------------------------------------------------------------------


def fetch_url(url: str, timeout: float, network: NetworkPolicy | None = None) -> tuple[int, bytes]:
    """GET `url` and return (status, body), following up to 3 redirects that stay https.

    Raise OSError on network failure (requests' exceptions are OSErrors) and ValueError for
    a body over MAX_AUTOCONFIG_BYTES. Certificates are verified: the autoconfig answer is
    trusted only because of them. With `network`, every connection (redirects included) goes
    only to addresses the policy allows.
    """
    with requests.Session() as session, guarded_http(network):
        session.mount("https://", GuardedAdapter())
        session.mount("http://", GuardedAdapter())
        return _fetch(session, url, timeout)


def _fetch(session: requests.Session, url: str, timeout: float) -> tuple[int, bytes]:
    for _ in range(MAX_REDIRECTS + 1):
        with session.get(url, timeout=timeout, allow_redirects=False, stream=True) as response:
            location = response.headers.get("Location")
            if response.is_redirect and location:
                url = urljoin(url, location)
                if urlsplit(url).scheme != "https":
                    return response.status_code, b""
                continue
            body = b""
            # iter_content turns urllib3's read errors into requests' (OSError) ones.
            for chunk in response.iter_content(chunk_size=16384):
                body += chunk
                if len(body) > MAX_AUTOCONFIG_BYTES:
                    raise ValueError(f"{url} returned more than {MAX_AUTOCONFIG_BYTES} bytes")
            return response.status_code, body
    return 310, b""  # too many redirects; any non-200 status is ignored by the caller


def probe_server(
    host: str,
    port: int,
    security: Security,
    protocol: Protocol,
    *,
    timeout: float = PROBE_TIMEOUT,
    network: NetworkPolicy | None = None,
) -> bool:
    """Connect to host:port and return whether it greets like an IMAP or SMTP server.

    "ssl" does the TLS handshake first (the greeting is inside it); "starttls" and "none"
    read the plain-text greeting. The certificate is not checked here: this only finds the
    server, and verifying the connection later reports a bad certificate to the user.
    """
    deadline = time.monotonic() + timeout
    try:
        with open_connection(host, port, timeout, network) as sock:
            if security == "ssl":
                context = ssl.create_default_context()
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
                with context.wrap_socket(sock, server_hostname=host) as tls:
                    return greeting_ok(_read_line(tls, deadline), protocol)
            return greeting_ok(_read_line(sock, deadline), protocol)
    except (OSError, ValueError):
        return False


def greeting_ok(line: bytes, protocol: Protocol) -> bool:
    """Return whether a server's first line is an IMAP ("* OK") or SMTP ("220") greeting."""
    if protocol == "imap":
        return line[:4].upper() == b"* OK"
    return line[:3] == b"220" and line[3:4] in (b" ", b"-", b"\r", b"\n", b"")


def _read_line(sock: socket.socket, deadline: float) -> bytes:
    # Bounded in size and time, so a server that trickles bytes can't hold the request.
    data = b""
    while b"\n" not in data and len(data) < 512:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        sock.settimeout(remaining)
        chunk = sock.recv(512)
        if not chunk:
            break
        data += chunk
    return data.split(b"\n", 1)[0]
