"""DNS lookups for pages a person waits on: short timeouts, and no more asking once DNS has
timed out. Used by the provider recommendation and server detection
(connecting/autodetect.py, servers.py) and the tracking domain's check
(tracking/domain.py). No Django here: a failed lookup's detail is a `Sentence`
(providers/base.py), English with its template marked for the catalogue, which the caller
translates (mailboxes/sentences.py).

Without a resolver given, dnspython's default one answers (the system's, from resolv.conf);
tests point that one, or the one they pass, at a local fake server (tests/fakes/dns.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import dns.exception
import dns.resolver

from mailboxes.providers.base import Sentence, gettext_noop

# The pages wait on these while the user watches.
DNS_TIMEOUT = 2.0


@dataclass(frozen=True, slots=True)
class Answer:
    records: tuple[Any, ...]
    status: Literal["ok", "nxdomain", "nodata", "failed"]
    detail: str = ""


class DnsLookup:
    """Run one call's DNS queries, and stop asking once DNS has timed out.

    A resolver that timed out once will time out again, and a page should not wait two
    seconds per lookup for each of a dozen lookups.
    """

    def __init__(self, resolver: dns.resolver.Resolver | None = None) -> None:
        self.broken = ""
        if resolver is None:
            try:
                resolver = dns.resolver.get_default_resolver()
            except (dns.exception.DNSException, OSError) as exc:
                self.broken = Sentence(
                    gettext_noop("no DNS resolver is configured (%(error)s)"), error=str(exc)
                )
        self.resolver = resolver

    def query(self, name: str, rdtype: str) -> Answer:
        if self.broken or self.resolver is None:
            return Answer((), "failed", self.broken)
        # An injected resolver may be quicker still, never slower.
        lifetime = min(float(self.resolver.lifetime or DNS_TIMEOUT), DNS_TIMEOUT)
        try:
            answer = self.resolver.resolve(name, rdtype, lifetime=lifetime, search=False)
        except dns.resolver.NXDOMAIN:
            return Answer((), "nxdomain")
        except dns.resolver.NoAnswer:
            return Answer((), "nodata")
        except dns.exception.Timeout:
            self.broken = Sentence(gettext_noop("the DNS lookup timed out"))
            return Answer((), "failed", self.broken)
        except dns.resolver.NoNameservers:
            # Usually a SERVFAIL for this one name (broken DNSSEC, a lame delegation), so
            # other names may still resolve.
            return Answer((), "failed", Sentence(gettext_noop("no DNS server could answer")))
        except (dns.exception.DNSException, OSError, ValueError) as exc:
            return Answer(
                (), "failed", Sentence(gettext_noop("DNS error: %(error)s"), error=str(exc))
            )
        return Answer(tuple(answer), "ok")

    def exists(self, host: str) -> bool:
        """Return False only when DNS says `host` has no address; True when unsure."""
        statuses = []
        for rdtype in ("A", "AAAA"):
            answer = self.query(host, rdtype)
            if answer.status == "ok":
                return True
            statuses.append(answer.status)
        return "failed" in statuses
