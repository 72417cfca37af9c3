"""Build the provider adapter for an inbox from its settings and secrets, stored or not yet.

There is one settings builder per provider kind. Each takes the pieces an inbox is stored as
(its `config`, its decrypted `secret` and its address) and fills in the adapter's settings
dataclass, found through the registry, together with the server-wide settings (OAuth client,
API endpoints). `provider_for` calls them for a stored inbox; the connect views and the OAuth
callbacks call `build_provider` with what the user just typed or the provider just granted,
the same pieces they then save, so a verified connection is the one later tasks rebuild.

OAuth adapters hand back rotated or refreshed tokens through a saver that writes them to the
inbox's encrypted secret at once, so a worker dying right after a refresh loses nothing.

The adapters that reach servers a user named (IMAP/SMTP hosts, EWS URLs and what Autodiscover
finds) get the network policy: non-public addresses are refused unless CRM_MAIL_SERVER_ALLOWLIST
lets them through, checked on the address each connection is made to (providers/network.py).
Gmail and Office 365 talk to the endpoints in settings only, and the demo inbox to the local
catcher, so they get none.
"""

import dataclasses
from collections.abc import Callable
from datetime import datetime

from django.conf import settings

from mailboxes.connecting.quota import account_budget, account_slots
from mailboxes.constants import Provider
from mailboxes.models import Mailbox
from mailboxes.providers import NetworkPolicy, get_provider, settings_class
from mailboxes.providers.base import ConnectionSettings, MailProvider

TokenSaver = Callable[[dict], None]


def _jsonable(tokens: dict) -> dict:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in tokens.items()}


def network_policy() -> NetworkPolicy:
    """The policy for servers users name: public addresses, plus the admin's allow-list."""
    return NetworkPolicy.from_entries(settings.CRM_MAIL_SERVER_ALLOWLIST)


def check_server_allowlist(app_configs=None, **kwargs) -> list:
    """System check: every CRM_MAIL_SERVER_ALLOWLIST entry is a network, address or host."""
    from django.core.checks import Error

    try:
        network_policy()
    except ValueError as exc:
        return [Error(f"CRM_MAIL_SERVER_ALLOWLIST: {exc}", id="mailboxes.E001")]
    return []


def token_saver(mailbox: Mailbox) -> TokenSaver:
    """Return a callback that stores new tokens in the inbox's encrypted secret immediately."""

    def save(tokens: dict) -> None:
        mailbox.secret = {**mailbox.secret, **_jsonable(tokens)}
        mailbox.save(update_fields=["secret"])

    return save


def imap_settings(
    config: dict, secret: dict, email: str, save_tokens: TokenSaver | None = None
) -> ConnectionSettings:
    return settings_class(Provider.IMAP)(
        email=email,
        username=config.get("username") or email,
        password=secret.get("password", ""),
        imap_host=config["imap_host"],
        imap_port=int(config["imap_port"]),
        imap_security=config["imap_security"],
        smtp_host=config["smtp_host"],
        smtp_port=int(config["smtp_port"]),
        smtp_security=config["smtp_security"],
        smtp_username=config.get("smtp_username") or None,
        smtp_password=secret.get("smtp_password") or None,
        trust_any_certificate=bool(config.get("trust_any_certificate")),
        network=network_policy(),
    )


def gmail_settings(config: dict, secret: dict, email: str, save_tokens: TokenSaver | None = None):
    expiry = secret.get("expiry")
    return settings_class(Provider.GMAIL)(
        email=email,
        client_id=settings.GOOGLE_CLIENT_ID,
        client_secret=settings.GOOGLE_CLIENT_SECRET,
        refresh_token=secret.get("refresh_token", ""),
        access_token=secret.get("access_token"),
        token_expiry=datetime.fromisoformat(expiry) if expiry else None,
        token_uri=settings.GOOGLE_TOKEN_URI,
        api_base=settings.GMAIL_API_BASE,
        scopes=tuple(secret.get("scope", "").split()),
        token_saver=save_tokens,
        # Google's per-user quota covers the sync and the sender of the account alike.
        budget=account_budget(Provider.GMAIL, settings.GMAIL_API_BASE, email),
    )


def graph_settings(config: dict, secret: dict, email: str, save_tokens: TokenSaver | None = None):
    return settings_class(Provider.OFFICE365)(
        email=email,
        client_id=settings.MICROSOFT_CLIENT_ID,
        client_secret=settings.MICROSOFT_CLIENT_SECRET,
        authority=settings.MICROSOFT_AUTHORITY,
        graph_base=settings.MICROSOFT_GRAPH_BASE,
        access_token=secret.get("access_token", ""),
        refresh_token=secret.get("refresh_token", ""),
        expires_at=float(secret.get("expires_at") or 0),
        token_saver=save_tokens,
        verify=settings.OAUTH_VERIFY,
        # Outlook's 4 requests in flight per mailbox, for the sync and the sender alike.
        slots=account_slots(Provider.OFFICE365, settings.MICROSOFT_GRAPH_BASE, email),
        budget=account_budget(Provider.OFFICE365, settings.MICROSOFT_GRAPH_BASE, email),
    )


def ews_settings(config: dict, secret: dict, email: str, save_tokens: TokenSaver | None = None):
    return settings_class(Provider.EXCHANGE)(
        email=email,
        password=secret.get("password", ""),
        username=config.get("username", ""),
        ews_url=config.get("ews_url", ""),
        auth_type=config.get("auth_type", ""),
        trust_any_certificate=bool(config.get("trust_any_certificate")),
        network=network_policy(),
    )


def demo_settings(config: dict, secret: dict, email: str, save_tokens: TokenSaver | None = None):
    catcher = settings.CRM_MAIL_CATCHER_DIR
    return settings_class(Provider.DEMO)(
        email=email,
        smtp_port=settings.CRM_MAIL_CATCHER_PORT,
        catcher_dir=str(catcher) if catcher else "",
    )


SETTINGS_BUILDERS = {
    Provider.DEMO: demo_settings,
    Provider.IMAP: imap_settings,
    Provider.GMAIL: gmail_settings,
    Provider.OFFICE365: graph_settings,
    Provider.EXCHANGE: ews_settings,
}


def build_provider(
    kind: str,
    config: dict,
    secret: dict,
    email: str,
    save_tokens: TokenSaver | None = None,
    *,
    timeout: float | None = None,
) -> MailProvider:
    """Return an adapter for an inbox of `kind` not saved yet; the caller closes it.

    No token saver by default: the connect flow stores the tokens it verified with. `timeout`
    replaces the adapter's own (per network operation) where its settings have one: the
    connect forms test a connection with a short one, while a person waits.
    """
    built = SETTINGS_BUILDERS[kind](config, secret, email, save_tokens)
    if timeout is not None and "timeout" in {f.name for f in dataclasses.fields(built)}:
        built = dataclasses.replace(built, timeout=timeout)
    return get_provider(kind, built)


def provider_for(mailbox: Mailbox) -> MailProvider:
    """Return a ready adapter for the inbox; the caller closes it."""
    return build_provider(
        mailbox.provider, mailbox.config, mailbox.secret, mailbox.email, token_saver(mailbox)
    )
