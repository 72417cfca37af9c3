"""The logging rules as sync applies them, read once per page of mail.

Entries of the never-log list are addresses ("someone@home.example") or domains
("home.example"), lowercased. A domain covers its subdomains: "acme.example" also keeps
"eu.acme.example" out. Until an admin saves the rules, the list holds the account's own
domains, those of its connected inboxes (not those of public mail services such as gmail.com,
whose users are customers too): mail among colleagues is not logged.
"""

from dataclasses import dataclass
from datetime import datetime

from mailboxes.connecting.autodetect import known_provider
from mailboxes.constants import LogMode
from mailboxes.models import LoggingRules, Mailbox


def own_domains() -> list[str]:
    """The domains of the connected inboxes' addresses, but those of public mail services."""
    domains = {
        email.rpartition("@")[2].lower().rstrip(".")
        for email in Mailbox.objects.values_list("email", flat=True)
    }
    return sorted(d for d in domains if d and known_provider(d) is None)


def current() -> LoggingRules:
    """The account's rules: the saved row, or the defaults with the own domains never logged."""
    rules = LoggingRules.load()
    if not rules.saved:
        rules.never_log = own_domains()
    return rules


def domain_covered(domain: str, domains: set[str] | frozenset[str]) -> bool:
    """Whether `domain` or one of its parent domains is in `domains`."""
    labels = domain.split(".")
    return any(".".join(labels[i:]) in domains for i in range(len(labels)))


def missing_own_domains(rules: LoggingRules) -> list[str]:
    """The own domains saved rules no longer keep out (an inbox connected since, or removed)."""
    listed = {e for e in rules.never_log if "@" not in e}
    return [d for d in own_domains() if not domain_covered(d, listed)]


@dataclass(frozen=True)
class Rules:
    """What `decide` needs of the rules, with the never-log list split for quick matching."""

    never_addresses: frozenset[str] = frozenset()
    never_domains: frozenset[str] = frozenset()
    create_contacts: bool = False
    contacts_since: datetime | None = None
    replies_only: bool = False
    on_companies: bool = True
    on_open_deals: bool = True
    on_open_tickets: bool = True

    @classmethod
    def of(cls, rules: LoggingRules) -> "Rules":
        return cls(
            never_addresses=frozenset(e for e in rules.never_log if "@" in e),
            never_domains=frozenset(e for e in rules.never_log if "@" not in e),
            create_contacts=rules.create_contacts,
            contacts_since=rules.contacts_since,
            replies_only=rules.log_mode == LogMode.REPLIES,
            on_companies=rules.on_companies,
            on_open_deals=rules.on_open_deals,
            on_open_tickets=rules.on_open_tickets,
        )

    def never_logged(self, address: str) -> bool:
        """Whether a lowercased participant address is on the never-log list."""
        if address in self.never_addresses:
            return True
        return bool(self.never_domains) and domain_covered(
            address.rpartition("@")[2], self.never_domains
        )


def for_sync() -> Rules:
    """The rules in force now: one or two queries, once per page of mail."""
    return Rules.of(current())
