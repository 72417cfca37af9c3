"""Build the provider adapter for a connected inbox from its stored settings and secrets.

OAuth adapters hand back rotated or refreshed tokens through a saver that writes them to the
inbox's encrypted secret at once, so a worker dying right after a refresh loses nothing.
"""

from datetime import datetime

from django.conf import settings

from mailboxes.constants import Provider
from mailboxes.models import Mailbox
from mailboxes.providers import get_provider
from mailboxes.providers.base import ConnectionSettings, MailProvider


def _jsonable(tokens: dict) -> dict:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in tokens.items()}


def token_saver(mailbox: Mailbox):
    """Return a callback that stores new tokens in the inbox's encrypted secret immediately."""

    def save(tokens: dict) -> None:
        mailbox.secret = {**mailbox.secret, **_jsonable(tokens)}
        mailbox.save(update_fields=["secret"])

    return save


def imap_settings(config: dict, secret: dict, email: str) -> ConnectionSettings:
    return ConnectionSettings(
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
    )


def gmail_settings(mailbox: Mailbox):
    from mailboxes.providers.gmail import GmailSettings

    expiry = mailbox.secret.get("expiry")
    return GmailSettings(
        email=mailbox.email,
        client_id=settings.GOOGLE_CLIENT_ID,
        client_secret=settings.GOOGLE_CLIENT_SECRET,
        refresh_token=mailbox.secret.get("refresh_token", ""),
        access_token=mailbox.secret.get("access_token"),
        token_expiry=datetime.fromisoformat(expiry) if expiry else None,
        token_uri=settings.GOOGLE_TOKEN_URI,
        api_base=settings.GMAIL_API_BASE,
        scopes=tuple(mailbox.secret.get("scope", "").split()),
        token_saver=token_saver(mailbox),
    )


def graph_settings(mailbox: Mailbox):
    from mailboxes.providers.graph import GraphSettings

    return GraphSettings(
        email=mailbox.email,
        client_id=settings.MICROSOFT_CLIENT_ID,
        client_secret=settings.MICROSOFT_CLIENT_SECRET,
        authority=settings.MICROSOFT_AUTHORITY,
        graph_base=settings.MICROSOFT_GRAPH_BASE,
        access_token=mailbox.secret.get("access_token", ""),
        refresh_token=mailbox.secret.get("refresh_token", ""),
        expires_at=float(mailbox.secret.get("expires_at") or 0),
        token_saver=token_saver(mailbox),
        verify=settings.OAUTH_VERIFY,
    )


def ews_settings(mailbox: Mailbox):
    from mailboxes.providers.ews import EwsSettings

    return EwsSettings(
        email=mailbox.email,
        password=mailbox.secret.get("password", ""),
        username=mailbox.config.get("username", ""),
        ews_url=mailbox.config.get("ews_url", ""),
        auth_type=mailbox.config.get("auth_type", ""),
        trust_any_certificate=bool(mailbox.config.get("trust_any_certificate")),
    )


def demo_settings(mailbox: Mailbox):
    from mailboxes.providers.demo import DemoSettings

    return DemoSettings(email=mailbox.email, smtp_port=settings.CRM_MAIL_CATCHER_PORT)


SETTINGS_BUILDERS = {
    Provider.DEMO: demo_settings,
    Provider.IMAP: lambda m: imap_settings(m.config, m.secret, m.email),
    Provider.GMAIL: gmail_settings,
    Provider.OFFICE365: graph_settings,
    Provider.EXCHANGE: ews_settings,
}


def provider_for(mailbox: Mailbox) -> MailProvider:
    """Return a ready adapter for the inbox; the caller closes it."""
    return get_provider(mailbox.provider, SETTINGS_BUILDERS[mailbox.provider](mailbox))
