"""Map an inbox's kind to the adapter that talks to its provider.

The rest of the product calls `get_provider()` and the `MailProvider` interface, never a
provider library directly. Adapters are imported on first use: exchangelib alone takes about
a second to import, which web processes that never touch Exchange should not pay.
"""

from __future__ import annotations

from importlib import import_module

from mailboxes.providers.base import MailProvider, ProviderError

PROVIDERS: dict[str, str] = {
    "imap": "mailboxes.providers.imap_smtp.ImapSmtpProvider",
    "gmail": "mailboxes.providers.gmail.GmailProvider",
    "office365": "mailboxes.providers.graph.GraphProvider",
    "exchange": "mailboxes.providers.ews.EwsProvider",
    "demo": "mailboxes.providers.demo.DemoProvider",
}

__all__ = ["PROVIDERS", "MailProvider", "ProviderError", "get_provider", "provider_class"]


def provider_class(kind: str) -> type[MailProvider]:
    """Return the adapter class for `kind`; ValueError for an unknown kind (a data error)."""
    try:
        path = PROVIDERS[kind]
    except KeyError:
        known = ", ".join(sorted(PROVIDERS))
        raise ValueError(f"No mail provider for kind {kind!r} (known: {known})") from None
    module, _, name = path.rpartition(".")
    return getattr(import_module(module), name)


def get_provider(kind: str, settings: object) -> MailProvider:
    """Return a provider adapter for `kind` built from its connection settings."""
    return provider_class(kind)(settings)
