"""Pieces shared by the inbox settings views."""

from django.contrib import messages
from django.shortcuts import get_object_or_404

from mailboxes.connecting.services import mailbox_disconnect
from mailboxes.models import Mailbox
from mailboxes.providers.base import ProviderError

STAGE_TITLES = {
    "dns": "The server name could not be found",
    "tcp": "The server could not be reached",
    "tls": "A secure connection could not be made",
    "auth": "Sign-in was refused",
    "protocol": "That server did not answer as expected",
    "other": "The connection failed",
}


def provider_error_text(error: ProviderError) -> str:
    """One sentence saying what failed (DNS, TCP, TLS, sign-in, server type) and what to do."""
    return f"{STAGE_TITLES.get(error.stage, STAGE_TITLES['other'])}: {error.message}"


def own_mailbox(request, pk: int) -> Mailbox:
    """A personal inbox of the signed-in user, or 404 (never someone else's)."""
    return get_object_or_404(Mailbox, pk=pk, owner=request.user)


def disconnect_inbox(request, mailbox: Mailbox) -> None:
    """Disconnect the inbox (credentials deleted) and say so on the next page."""
    mailbox_disconnect(mailbox)
    messages.success(request, f"{mailbox.email} is disconnected and its credentials are deleted.")


def connected(request, mailbox: Mailbox) -> None:
    messages.success(request, f"{mailbox.email} is connected. Its email will start syncing.")
