"""Guess who hosts an address: the provider to recommend (Gmail, Office 365, Exchange or
IMAP), from the well-known providers and the domain's MX. Where its IMAP/SMTP servers are is
found by servers.py, from the results, addresses and well-known providers defined here.

Used by the "Connect personal email" flow. Nothing here imports Django: the caller passes in
what lives in the database (an admin's server settings for the domain), and every network
dependency (DNS resolver, HTTP GET, TCP probe) is a parameter, so tests point them at local
fakes. Nothing is cached between calls, and network trouble never raises: a failed lookup only
makes the guess less specific.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

import dns.resolver

from mailboxes.dns import DnsLookup
from mailboxes.providers.base import (
    ConnectionSettings,
    Security,
    Sentence,
    gettext_noop,
)

ProviderKind = Literal["gmail", "office365", "exchange", "imap"]
Source = Literal["admin", "known", "autoconfig", "srv", "probe", "none"]
# "other" is an autoconfig username template that is neither the address nor its local part.
UsernameForm = Literal["email", "local_part", "other"]
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

HOST_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")


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
    if len(domain) > 253 or not all(HOST_LABEL.fullmatch(label) for label in domain.split(".")):
        return None
    return local, domain


# -- DNS ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _MailHost:
    family: str | None
    host: str | None
    status: Literal["ok", "nxdomain", "nodata", "null", "failed"]
    detail: str = ""


def lookup_mail_host(domain: str, lookup: DnsLookup) -> _MailHost:
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

    mail_host = lookup_mail_host(domain, DnsLookup(resolver))
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
