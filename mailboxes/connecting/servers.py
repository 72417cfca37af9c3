"""Where an address's IMAP and SMTP servers are, for the "Connect personal email" flow: the
admin's settings for the domain, the well-known providers, the domain's autoconfig file, RFC
6186/8314 SRV records, then probing the usual host names. Like autodetect.py, nothing here
imports Django, every network dependency is a parameter, and network trouble never raises."""

from __future__ import annotations

import functools
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import dns.resolver

from mailboxes.connecting.autodetect import (
    HOST_LABEL,
    MX_FAMILIES,
    Endpoint,
    ServerGuess,
    Source,
    UsernameForm,
    known_provider,
    lookup_mail_host,
    split_address,
)
from mailboxes.connecting.probes import (
    HTTP_TIMEOUT,
    MAX_AUTOCONFIG_BYTES,
    Protocol,
    fetch_url,
    probe_server,
)
from mailboxes.dns import DnsLookup
from mailboxes.providers import NetworkPolicy
from mailboxes.providers.base import (
    SECURITY_MODES,
    Security,
)

# http_get(url, timeout) -> (status, body); may raise OSError (requests' errors are OSErrors).
HttpGet = Callable[[str, float], tuple[int, bytes]]
# probe(host, port, security, protocol) -> whether a server of that kind answered there.
Probe = Callable[[str, int, Security, Protocol], bool]

IMAP_PROBE_PORTS: tuple[tuple[int, Security], ...] = ((993, "ssl"), (143, "starttls"))
SMTP_PROBE_PORTS: tuple[tuple[int, Security], ...] = ((465, "ssl"), (587, "starttls"))


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
    username = username_for(email, login.username_form, login.username_template) if login else ""
    smtp_username = (
        username_for(email, smtp_login.username_form, smtp_login.username_template)
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
    return 0 < len(host) <= 253 and all(HOST_LABEL.fullmatch(label) for label in host.split("."))


def _from_known(domain: str, lookup: DnsLookup) -> _Found | None:
    known = known_provider(domain)
    if known is None:
        mail_host = lookup_mail_host(domain, lookup)
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


def username_for(email: str, form: UsernameForm, template: str = "") -> str:
    local, _, domain = email.strip().rpartition("@")
    if template:
        return (
            template.replace("%EMAILADDRESS%", email.strip())
            .replace("%EMAILLOCALPART%", local)
            .replace("%EMAILDOMAIN%", domain)
        )
    return local if form == "local_part" else email.strip()
