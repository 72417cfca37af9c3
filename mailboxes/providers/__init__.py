"""The registry: the one way the rest of the product reaches provider code.

Outside `mailboxes/providers/`, modules import only this registry and `providers.base` (the
`MailProvider` interface, its dataclasses and the errors callers catch: `ProviderError`,
`SharedMailboxError`), never an adapter module; adapters in turn import nothing from the CRM
(no Django, no `mailboxes.*` outside providers/). `tests/mailboxes/test_provider_boundaries.py`
holds both rules. What the registry offers:

- `get_provider(kind, settings)`: a ready adapter (`provider_class(kind)` is its class).
- `settings_class(kind)`: the settings dataclass the adapter is built from;
  `mailboxes/connecting/connections.py` has the one builder per kind that fills it in from an
  inbox's config, secret and address.
- `oauth(kind)`: the OAuth sign-in flow of a provider connected through a consent screen, a
  module of plain functions: "gmail" (`client_config`, `authorization_url`, `exchange_code`,
  `revoke`, `looks_like_testing_mode`) and "office365" (`start_auth`, `finish_auth`).
- `QuotaBudget`, `LocalBudget`, `local_budget(key)`: a provider account's rate budget
  (`pacing.py`), which an adapter paced under its provider's quota books from before each
  call; `ConcurrencySlots`, `LocalSlots`, `local_slots(key)`: a limit on an account's
  requests in flight (Outlook's 4 per mailbox). `mailboxes/connecting/quota.py` keeps both in
  Redis, shared by every worker.
- `ews_url_from_webmail`, `autodiscover_candidates`: the Exchange connect form's URL helpers.
- `NetworkPolicy`: which addresses servers may resolve to (non-public ones only when an admin
  allow-listed them), passed to the IMAP/SMTP and EWS adapters in their settings' `network`;
  `open_connection` and `guarded_http` / `GuardedAdapter` apply it to the connections other
  code opens to servers named by users or their DNS (the connect flow's server detection).

Some adapters have extras the connect flow uses after `verify()`, documented on the adapter:
Exchange's `ews_url` and `auth_type` (what Autodiscover found), Gmail's `send_as_aliases()`.

Adapters are imported on first use: exchangelib alone takes about a second to import, which
web processes that never touch Exchange should not pay.
"""

from __future__ import annotations

from importlib import import_module
from types import ModuleType

from mailboxes.providers.base import MailProvider, ProviderError, SharedMailboxError
from mailboxes.providers.ews_urls import autodiscover_candidates, ews_url_from_webmail
from mailboxes.providers.network import (
    GuardedAdapter,
    NetworkPolicy,
    guarded_http,
    open_connection,
)
from mailboxes.providers.pacing import (
    ConcurrencySlots,
    LocalBudget,
    LocalSlots,
    QuotaBudget,
    local_budget,
    local_slots,
)

PROVIDERS: dict[str, str] = {
    "imap": "mailboxes.providers.imap_smtp.ImapSmtpProvider",
    "gmail": "mailboxes.providers.gmail.GmailProvider",
    "office365": "mailboxes.providers.graph.GraphProvider",
    "exchange": "mailboxes.providers.ews.EwsProvider",
    "demo": "mailboxes.providers.demo.DemoProvider",
}
# The sign-in flows of the providers connected through an OAuth consent screen.
OAUTH_FLOWS: dict[str, str] = {
    "gmail": "mailboxes.providers.google_oauth",
    "office365": "mailboxes.providers.microsoft_oauth",
}

__all__ = [
    "OAUTH_FLOWS",
    "PROVIDERS",
    "ConcurrencySlots",
    "GuardedAdapter",
    "LocalBudget",
    "LocalSlots",
    "MailProvider",
    "NetworkPolicy",
    "ProviderError",
    "QuotaBudget",
    "SharedMailboxError",
    "autodiscover_candidates",
    "ews_url_from_webmail",
    "get_provider",
    "guarded_http",
    "local_budget",
    "local_slots",
    "oauth",
    "open_connection",
    "provider_class",
    "settings_class",
]


def _lookup(table: dict[str, str], kind: str, what: str) -> str:
    try:
        return table[kind]
    except KeyError:
        known = ", ".join(sorted(table))
        raise ValueError(f"No {what} for kind {kind!r} (known: {known})") from None


def provider_class(kind: str) -> type[MailProvider]:
    """Return the adapter class for `kind`; ValueError for an unknown kind (a data error)."""
    module, _, name = _lookup(PROVIDERS, kind, "mail provider").rpartition(".")
    return getattr(import_module(module), name)


def get_provider(kind: str, settings: object) -> MailProvider:
    """Return a provider adapter for `kind` built from its connection settings."""
    return provider_class(kind)(settings)


def settings_class(kind: str) -> type:
    """Return the settings dataclass the adapter for `kind` is built from."""
    return provider_class(kind).settings_class


def oauth(kind: str) -> ModuleType:
    """Return the OAuth sign-in flow module of `kind`; ValueError for a kind without one."""
    return import_module(_lookup(OAUTH_FLOWS, kind, "OAuth sign-in flow"))
