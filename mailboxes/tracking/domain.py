"""The account's tracking domain: the host name in open pixels and click links instead of the
CRM's own (Settings > Email > Sending).

An admin names a host of their own domain (t.example.com) and creates a CNAME from it to the
host of CRM_BASE_URL. Links use it only once a check found it leading here (a CNAME to the
CRM's host, or A/AAAA records among the CRM host's addresses) and while this server accepts
requests for it (ALLOWED_HOSTS, which the environment sets: CRM_TRACKING_HOST adds the name,
and the page tells the admin so). Until then, and if either stops being true, links use
CRM_BASE_URL, so no email goes out with links that cannot answer. Links already sent keep
working whatever the setting becomes: the /t/ endpoints answer on every host the server
accepts, and their tokens are the same on all of them.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

import dns.resolver
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import DomainNameValidator
from django.db import transaction
from django.http.request import validate_host
from django.utils import timezone
from django.utils.translation import gettext as _

from mailboxes.constants import TrackingDomainCheck
from mailboxes.dns import DnsLookup
from mailboxes.models import SendingSettings
from mailboxes.sentences import translated

_DOMAIN_NAME = DomainNameValidator(accept_idna=False)


def base_host() -> str:
    """The host of CRM_BASE_URL: what a tracking domain's CNAME points to."""
    return (urlsplit(settings.CRM_BASE_URL).hostname or "").lower()


def normalize_domain(value: str) -> str:
    """Return the host name an admin typed, lowercased and in its ASCII form; raise
    ValidationError with what is wrong with anything else (a URL, an IP address, a name
    that is no host name, the CRM's own host)."""
    text = value.strip().rstrip(".").lower()
    if "://" in text or "/" in text:
        raise ValidationError(
            _("Type the host name only, without https:// or a path: e.g. t.example.com."),
            code="url",
        )
    try:
        ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        pass
    else:
        raise ValidationError(
            _("Use a host name, not an IP address: e.g. t.example.com."), code="ip"
        )
    try:
        text = text.encode("idna").decode("ascii")
        _DOMAIN_NAME(text)
    except (UnicodeError, ValidationError):
        raise ValidationError(
            _("“%(value)s” is not a host name. Use one like t.example.com."),
            code="invalid",
            params={"value": value.strip()},
        ) from None
    if text == base_host():
        raise ValidationError(
            _("That is the CRM's own address. A tracking domain is another name, of your domain."),
            code="own",
        )
    return text


def cname_record(domain: str) -> str:
    """The DNS record the admin must create, in zone-file form."""
    return f"{domain}. CNAME {base_host()}."


def host_allowed(domain: str) -> bool:
    """Whether this server accepts requests for `domain` (ALLOWED_HOSTS: DJANGO_ALLOWED_HOSTS
    and CRM_TRACKING_HOST)."""
    return validate_host(domain, settings.ALLOWED_HOSTS)


def tracking_base_url(account: SendingSettings | None = None) -> str:
    """Where new pixel and click links point: CRM_BASE_URL with its host replaced by the
    tracking domain (scheme, port and path kept) once the domain's check passed and while the
    server accepts it; CRM_BASE_URL otherwise."""
    base = settings.CRM_BASE_URL
    account = account or SendingSettings.load()
    domain = account.tracking_domain
    if not account.tracking_domain_verified or not host_allowed(domain):
        return base
    parts = urlsplit(base)
    netloc = domain if parts.port is None else f"{domain}:{parts.port}"
    return parts._replace(netloc=netloc).geturl()


@dataclass(frozen=True)
class DomainCheck:
    status: str  # a TrackingDomainCheck
    found: str  # what DNS said, in words


def _addresses(lookup: DnsLookup, host: str) -> tuple[set[str], str]:
    """The A and AAAA addresses of `host` (an IP address stands for itself), and the DNS
    error when a lookup failed."""
    try:
        return {ipaddress.ip_address(host).compressed}, ""
    except ValueError:
        pass
    found, errors = set(), []
    for rdtype in ("A", "AAAA"):
        answer = lookup.query(host, rdtype)
        if answer.status == "failed":
            errors.append(translated(answer.detail))
        found |= {ipaddress.ip_address(r.address).compressed for r in answer.records}
    return found, "; ".join(dict.fromkeys(errors))


def check_domain(domain: str, resolver: dns.resolver.Resolver | None = None) -> DomainCheck:
    """Look `domain` up: does it lead to the CRM's host?

    It does with a CNAME to that host, or with addresses (A/AAAA) all among that host's (a
    CNAME to another name that leads to the same machine passes that way too).
    """
    lookup = DnsLookup(resolver)
    target = base_host()
    cname = lookup.query(domain, "CNAME")
    if cname.status == "failed":
        return DomainCheck(TrackingDomainCheck.FAILED, translated(cname.detail))
    if cname.status == "nxdomain":
        return DomainCheck(
            TrackingDomainCheck.MISSING, _("%(domain)s does not exist in DNS.") % {"domain": domain}
        )
    aliases = [r.target.to_text(omit_final_dot=True).lower() for r in cname.records]
    if target in aliases:
        return DomainCheck(
            TrackingDomainCheck.RESOLVES,
            _("%(domain)s is a CNAME to %(target)s.") % {"domain": domain, "target": target},
        )
    mine, error = _addresses(lookup, domain)
    if error and not mine:
        return DomainCheck(TrackingDomainCheck.FAILED, error)
    if aliases and not mine:
        return DomainCheck(
            TrackingDomainCheck.ELSEWHERE,
            _("%(domain)s is a CNAME to %(found)s, not to %(target)s.")
            % {"domain": domain, "found": ", ".join(aliases), "target": target},
        )
    if not mine:
        return DomainCheck(
            TrackingDomainCheck.MISSING,
            _("%(domain)s has no CNAME, A or AAAA record.") % {"domain": domain},
        )
    theirs, error = _addresses(lookup, target)
    if not theirs:
        return DomainCheck(
            TrackingDomainCheck.FAILED,
            _("The CRM's own host %(target)s could not be looked up: %(error)s")
            % {"target": target, "error": error or _("it has no address")},
        )
    words = {
        "domain": domain,
        "found": ", ".join(aliases + sorted(mine)),
        "target": target,
        "theirs": ", ".join(sorted(theirs)),
    }
    if mine <= theirs:
        return DomainCheck(
            TrackingDomainCheck.RESOLVES,
            _("%(domain)s leads to %(found)s, the addresses of %(target)s.") % words,
        )
    return DomainCheck(
        TrackingDomainCheck.ELSEWHERE,
        _("%(domain)s leads to %(found)s, not to %(target)s (%(theirs)s).") % words,
    )


@transaction.atomic
def tracking_domain_set(domain: str) -> SendingSettings:
    """Save the account's tracking domain ("" for none); a new name is unchecked, so links
    keep the CRM's address until it is checked."""
    account = SendingSettings.load()
    if domain != account.tracking_domain:
        account.tracking_domain = domain
        account.tracking_check = TrackingDomainCheck.NOT_CHECKED
        account.tracking_found = ""
        account.tracking_checked_at = None
        account.save()
    return account


def tracking_domain_check(resolver: dns.resolver.Resolver | None = None) -> SendingSettings:
    """Check the saved tracking domain in DNS and save what was found."""
    account = SendingSettings.load()
    if not account.tracking_domain:
        return account
    # No transaction is held open meanwhile: the lookups may take seconds.
    result = check_domain(account.tracking_domain, resolver)
    # Only if the name is still the one checked (an admin may have changed it meanwhile).
    now = timezone.now()
    SendingSettings.objects.filter(pk=1, tracking_domain=account.tracking_domain).update(
        tracking_check=result.status,
        tracking_found=result.found,
        tracking_checked_at=now,
        updated_at=now,
    )
    return SendingSettings.load()
