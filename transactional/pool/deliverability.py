"""The deliverability check of the sending domain: SPF, DKIM (the product's selector, when it
signs) and DMARC records, each found / missing / wrong, with the exact record to publish.

Looked up through mailboxes/dns.py (dnspython, short timeouts: an admin waits on the page).
"""

from __future__ import annotations

import ipaddress
from dataclasses import asdict, dataclass

import dns.resolver
from django.utils import timezone
from django.utils.translation import gettext as _

from mailboxes.dns import DnsLookup
from mailboxes.sentences import translated
from mailboxes.tracking.domain import base_host
from transactional.pool import dkim
from transactional.pool.models import SendingPool
from transactional.pool.relay import is_loopback

FOUND, MISSING, WRONG, UNKNOWN = "found", "missing", "wrong", "unknown"


@dataclass(frozen=True)
class Finding:
    kind: str  # "SPF", "DKIM", "DMARC"
    name: str  # the DNS name of the TXT record
    status: str  # FOUND, MISSING, WRONG, or UNKNOWN (DNS could not answer)
    detail: str  # what was seen, in words
    publish: str  # the exact TXT value to publish ("" when nothing is to change)


def spf_mechanism(pool: SendingPool) -> str:
    """What authorizes the relay in SPF: the admin's (a relay's documented include), else
    the relay's address or host; a relay on this machine delivers from the CRM's own host."""
    if pool.spf_mechanism:
        return pool.spf_mechanism.strip()
    host = base_host() if is_loopback(pool.host) else pool.host.strip().strip("[]")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return f"a:{host}"
    return f"ip{address.version}:{address}"


def _texts(lookup: DnsLookup, name: str) -> tuple[list[str], str]:
    """The TXT strings at `name` (each record's strings joined), and "" or what failed."""
    answer = lookup.query(name, "TXT")
    if answer.status == "failed":
        return [], translated(answer.detail) or _("DNS could not answer")
    texts = [b"".join(r.strings).decode("utf-8", "replace") for r in answer.records]
    return texts, ""


def check_spf(lookup: DnsLookup, pool: SendingPool) -> Finding:
    name, mechanism = pool.domain, spf_mechanism(pool)
    texts, failed = _texts(lookup, name)
    if failed:
        return Finding("SPF", name, UNKNOWN, failed, f"v=spf1 {mechanism} ~all")
    spf = [t for t in texts if t.lower().split(" ", 1)[0] == "v=spf1"]
    if not spf:
        return Finding("SPF", name, MISSING, _("No SPF record."), f"v=spf1 {mechanism} ~all")
    if len(spf) > 1:
        detail = _("%(n)s SPF records: receivers treat that as an error. Merge them into one.")
        return Finding("SPF", name, WRONG, detail % {"n": len(spf)}, _merge_spf(spf, mechanism))
    terms = spf[0].lower().split()
    if mechanism.lower() not in terms:
        detail = _("The record does not name the relay (%(mechanism)s): %(record)s")
        return Finding(
            "SPF",
            name,
            WRONG,
            detail % {"mechanism": mechanism, "record": spf[0]},
            _merge_spf(spf, mechanism),
        )
    return Finding("SPF", name, FOUND, spf[0], "")


def _merge_spf(records: list[str], mechanism: str) -> str:
    """One record with every mechanism of `records` and the relay's, before one `all`."""
    terms, final = [], "~all"
    for record in records:
        for term in record.split()[1:]:
            if term.lower().lstrip("+-~?") == "all":
                final = term
            elif term.lower() not in (t.lower() for t in terms):
                terms.append(term)
    if mechanism.lower() not in (t.lower() for t in terms):
        terms.append(mechanism)
    return " ".join(["v=spf1", *terms, final])


def _tags(text: str) -> dict[str, str]:
    tags = {}
    for part in text.split(";"):
        key, sep, value = part.partition("=")
        if sep:
            tags[key.strip().lower()] = "".join(value.split())
    return tags


def check_dkim(lookup: DnsLookup, pool: SendingPool) -> Finding:
    name = dkim.record_name(pool.dkim_selector, pool.domain)
    wanted = dkim.record_value(pool.dkim_public_key)
    texts, failed = _texts(lookup, name)
    if failed:
        return Finding("DKIM", name, UNKNOWN, failed, wanted)
    keys = [t for t in texts if "p" in _tags(t)]
    if not keys:
        return Finding("DKIM", name, MISSING, _("No DKIM key at this selector."), wanted)
    if any(_tags(t)["p"] == pool.dkim_public_key for t in keys):
        return Finding("DKIM", name, FOUND, _("The published key is the product's."), "")
    detail = _("A different key is published here: mail signed by the product will fail.")
    return Finding("DKIM", name, WRONG, detail, wanted)


def check_dmarc(lookup: DnsLookup, pool: SendingPool) -> Finding:
    name = f"_dmarc.{pool.domain}"
    wanted = f"v=DMARC1; p=none; rua=mailto:dmarc-reports@{pool.domain}"
    texts, failed = _texts(lookup, name)
    if failed:
        return Finding("DMARC", name, UNKNOWN, failed, wanted)
    dmarc = [t for t in texts if t.replace(" ", "").upper().startswith("V=DMARC1")]
    if not dmarc:
        return Finding("DMARC", name, MISSING, _("No DMARC record."), wanted)
    if len(dmarc) > 1:
        detail = _("%(n)s DMARC records: receivers ignore them all. Keep one.")
        return Finding("DMARC", name, WRONG, detail % {"n": len(dmarc)}, dmarc[0])
    policy = _tags(dmarc[0]).get("p", "").lower()
    if policy not in ("none", "quarantine", "reject"):
        detail = _("The record has no valid policy (p=none, quarantine or reject): %(record)s")
        return Finding("DMARC", name, WRONG, detail % {"record": dmarc[0]}, wanted)
    return Finding("DMARC", name, FOUND, dmarc[0], "")


def check(pool: SendingPool, resolver: dns.resolver.Resolver | None = None) -> list[Finding]:
    lookup = DnsLookup(resolver)
    findings = [check_spf(lookup, pool)]
    if pool.signs:
        findings.append(check_dkim(lookup, pool))
    findings.append(check_dmarc(lookup, pool))
    return findings


def check_and_store(resolver: dns.resolver.Resolver | None = None) -> list[Finding]:
    """Run the check for the saved pool and keep what it found for the page."""
    pool = SendingPool.load()
    findings = check(pool, resolver)
    pool.dns_check = [asdict(f) for f in findings]
    pool.dns_checked_at = timezone.now()
    pool.save()
    return findings
