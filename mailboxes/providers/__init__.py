"""Map an inbox's kind to the adapter that talks to its provider.

The rest of the product calls `get_provider()` and the `MailProvider` interface, never a
provider library directly.
"""

from __future__ import annotations

from mailboxes.providers.base import MailProvider, ProviderError
from mailboxes.providers.imap_smtp import ImapSmtpProvider

PROVIDERS: dict[str, type[MailProvider]] = {
    ImapSmtpProvider.kind: ImapSmtpProvider,
}

__all__ = ["PROVIDERS", "MailProvider", "ProviderError", "get_provider"]


def get_provider(kind: str, settings: object) -> MailProvider:
    """Return a provider adapter for `kind` built from its connection settings.

    Raises ValueError for an unknown kind: that is a programming or data error, not
    something a user can fix by reconnecting.
    """
    try:
        provider_class = PROVIDERS[kind]
    except KeyError:
        known = ", ".join(sorted(PROVIDERS))
        raise ValueError(f"No mail provider for kind {kind!r} (known: {known})") from None
    return provider_class(settings)
