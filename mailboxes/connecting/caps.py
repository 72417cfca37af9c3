"""What each provider lets one inbox send (its cap), and the limits a new inbox starts with.

An inbox's limits are counted by the throttle (outbox/throttle.py): emails a minute, and
recipients a day (every envelope address, Bcc too). The caps are given in those units:

- Gmail (gmail.com, googlemail.com): 500 a day.
- Google Workspace: 2,000 emails a day (and 10,000 recipients: counting recipients against
  2,000 keeps under both).
- Office 365 / Exchange Online: 30 emails a minute and 10,000 recipients a day.
- Exchange on-premises, other IMAP/SMTP servers and the demo inbox: no cap here; the server's
  admin decides.

The cap follows who actually sends, not only the connect flow used: a gmail.com address is
Gmail whichever way it was connected, and an IMAP/SMTP or EWS inbox whose server is Google's
or Exchange Online is capped like one. Here rather than in outbox/: the connect flows apply
the limits (outbox imports connecting, never the other way).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from django.utils.formats import number_format
from django.utils.functional import Promise
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from mailboxes.constants import Provider
from mailboxes.models import Mailbox, SendingSettings

# What a plan's new inboxes start with until an admin changes it (within the plan's cap).
DEFAULT_PER_MINUTE = 20
DEFAULT_PER_DAY = 500

MINUTE, DAY = "minute", "day"
GMAIL_DOMAINS = frozenset({"gmail.com", "googlemail.com"})
GOOGLE_SERVERS = ("gmail.com", "googlemail.com", "google.com")
EXCHANGE_ONLINE_SERVERS = ("office365.com",)


@dataclass(frozen=True)
class Plan:
    """A kind of sending server with its caps (None: no cap)."""

    key: str
    label: Promise
    per_minute: int | None = None
    per_day: int | None = None

    def cap(self, window: str) -> int | None:
        return self.per_minute if window == MINUTE else self.per_day

    def describe(self) -> str:
        """The caps in words, e.g. "30 emails a minute, 10,000 recipients a day"."""
        parts = []
        if self.per_minute:
            parts.append(describe_limit(MINUTE, self.per_minute))
        if self.per_day:
            parts.append(describe_limit(DAY, self.per_day))
        return ", ".join(parts) or gettext("no cap: the server's admin decides")

    def clamp(self, window: str, value: int) -> int:
        cap = self.cap(window)
        return value if cap is None else min(value, cap)

    def defaults(self) -> dict[str, int]:
        return {
            MINUTE: self.clamp(MINUTE, DEFAULT_PER_MINUTE),
            DAY: self.clamp(DAY, DEFAULT_PER_DAY),
        }


GMAIL = Plan("gmail", _("Gmail (gmail.com, googlemail.com)"), per_day=500)
WORKSPACE = Plan("workspace", _("Google Workspace"), per_day=2000)
EXCHANGE_ONLINE = Plan("exchange_online", _("Office 365 / Exchange Online"), 30, 10_000)
EXCHANGE = Plan("exchange", _("Exchange (on-premises)"))
OTHER = Plan("other", _("Other servers (IMAP/SMTP)"))
PLANS = (GMAIL, WORKSPACE, EXCHANGE_ONLINE, EXCHANGE, OTHER)


def describe_limit(window: str, value: int) -> str:
    number = number_format(value, force_grouping=True)
    if window == MINUTE:
        return gettext("%(n)s emails a minute") % {"n": number}
    return gettext("%(n)s recipients a day") % {"n": number}


def _host_under(host: str, domains: tuple[str, ...]) -> bool:
    host = host.lower().rstrip(".")
    return any(host == domain or host.endswith(f".{domain}") for domain in domains)


def plan_for(provider: str, email: str, config: dict) -> Plan:
    """The plan of an inbox from its provider, its address and where it sends through."""
    if email.rsplit("@", 1)[-1].lower() in GMAIL_DOMAINS:
        return GMAIL
    if provider == Provider.GMAIL:
        return WORKSPACE
    if provider == Provider.OFFICE365:
        return EXCHANGE_ONLINE
    if provider == Provider.IMAP:
        smtp_host = config.get("smtp_host") or ""
        if _host_under(smtp_host, GOOGLE_SERVERS):
            return WORKSPACE
        if _host_under(smtp_host, EXCHANGE_ONLINE_SERVERS):
            return EXCHANGE_ONLINE
    if provider == Provider.EXCHANGE:
        ews_host = urlsplit(config.get("ews_url") or "").hostname or ""
        return EXCHANGE_ONLINE if _host_under(ews_host, EXCHANGE_ONLINE_SERVERS) else EXCHANGE
    return OTHER


def mailbox_plan(mailbox: Mailbox) -> Plan:
    return plan_for(mailbox.provider, mailbox.email, mailbox.config)


def over_cap_message(plan: Plan, window: str) -> str | None:
    """What a limit over the plan's cap is told ("Gmail ... allows at most 500 recipients a
    day."), or None when the plan has no cap there."""
    cap = plan.cap(window)
    if cap is None:
        return None
    return gettext("%(plan)s allows at most %(cap)s.") % {
        "plan": plan.label,
        "cap": describe_limit(window, cap),
    }


def cap_help(plan: Plan, window: str) -> str:
    """What the field of a limit says of its cap, before anything is typed."""
    cap = plan.cap(window)
    if cap is None:
        return gettext("%(plan)s: no cap here, the server's admin decides.") % {"plan": plan.label}
    return gettext("The cap of %(plan)s: %(cap)s.") % {
        "plan": plan.label,
        "cap": describe_limit(window, cap),
    }


def account_defaults(account: SendingSettings, plan: Plan) -> dict[str, int]:
    """The limits a new inbox of `plan` starts with: what an admin set, within the cap."""
    saved = account.new_inbox_limits.get(plan.key) or {}
    defaults = plan.defaults()
    return {window: plan.clamp(window, saved.get(window, defaults[window])) for window in defaults}


def new_inbox_limits(provider: str, email: str, config: dict) -> dict[str, int]:
    """The `send_per_minute` and `send_per_day` of a new inbox."""
    limits = account_defaults(SendingSettings.load(), plan_for(provider, email, config))
    return {"send_per_minute": limits[MINUTE], "send_per_day": limits[DAY]}


def clamped_limits(mailbox: Mailbox) -> dict[str, int]:
    """The inbox's limits within its plan's caps (a reconnect may change the plan)."""
    plan = mailbox_plan(mailbox)
    return {
        "send_per_minute": plan.clamp(MINUTE, mailbox.send_per_minute),
        "send_per_day": plan.clamp(DAY, mailbox.send_per_day),
    }
