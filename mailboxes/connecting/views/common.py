"""Pieces shared by the inbox settings views."""

from django.contrib import messages
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from mailboxes.connecting.services import mailbox_disconnect
from mailboxes.constants import Provider
from mailboxes.models import Mailbox
from mailboxes.providers.base import ProviderError
from mailboxes.sentences import translated

STAGE_TITLES = {
    "dns": gettext_lazy("The server name could not be found"),
    "tcp": gettext_lazy("The server could not be reached"),
    "tls": gettext_lazy("A secure connection could not be made"),
    "auth": gettext_lazy("Sign-in was refused"),
    "protocol": gettext_lazy("That server did not answer as expected"),
    "blocked": gettext_lazy("This server is not allowed"),
    "other": gettext_lazy("The connection failed"),
}


def provider_error_text(error: ProviderError) -> str:
    """One sentence saying what failed (DNS, TCP, TLS, sign-in, server type) and what to do."""
    title = STAGE_TITLES.get(error.stage, STAGE_TITLES["other"])
    return _titled(title, translated(error.message))


def _titled(title: str, text: str) -> str:
    """What failed, then what to do: "Sign-in was refused: …"."""
    # Translators: a connection problem, then its explanation.
    return _("%(problem)s: %(explanation)s") % {"problem": title, "explanation": text}


def unreachable(error: ProviderError) -> bool:
    """Whether the error says only that no server of the right kind answered: nothing
    listening, a timeout, a failed TLS handshake, or something that is not a mail server."""
    return error.stage in ("tcp", "protocol") or (error.stage == "tls" and not error.permanent)


def connection_test_error_text(error: ProviderError, kind: str, config: dict) -> str:
    """What a connect form says when testing the servers the user gave failed.

    A closed port, a filtered one and a port where something else answers all get the same
    words, naming only what the user typed: otherwise the form would tell anyone which ports
    of a host are open (a port scanner). A refused sign-in, a bad certificate, DNS and a
    refused address keep their own explanation.
    """
    if not unreachable(error):
        return provider_error_text(error)
    title = _("The server could not be reached")
    if kind == Provider.IMAP:
        text = _(
            "no IMAP and SMTP servers answered as such at %(imap)s port %(imap_port)s and "
            "%(smtp)s port %(smtp_port)s. Check the server names, the ports and the security "
            "settings (SSL is usually port 993 for IMAP and 465 for SMTP, STARTTLS 143 and "
            "587)."
        ) % {
            "imap": config.get("imap_host"),
            "imap_port": config.get("imap_port"),
            "smtp": config.get("smtp_host"),
            "smtp_port": config.get("smtp_port"),
        }
    elif config.get("ews_url"):
        text = _(
            "no Exchange server answered as such at %(url)s. Check the Exchange URL: it "
            "usually looks like https://mail.example.com/EWS/Exchange.asmx."
        ) % {"url": config["ews_url"]}
    else:
        text = _(
            "Autodiscover found no Exchange server for this address. Fill in the Exchange "
            "URL: it usually looks like https://mail.example.com/EWS/Exchange.asmx (the "
            "address of your webmail works too)."
        )
    return _titled(title, text)


def own_mailbox(request, pk: int) -> Mailbox:
    """A personal inbox of the signed-in user, or 404 (never someone else's)."""
    return get_object_or_404(Mailbox, pk=pk, owner=request.user)


def disconnect_inbox(request, mailbox: Mailbox) -> None:
    """Disconnect the inbox (credentials deleted) and say so on the next page."""
    mailbox_disconnect(mailbox)
    messages.success(
        request,
        _("%(email)s is disconnected and its credentials are deleted.") % {"email": mailbox.email},
    )


def connected(request, mailbox: Mailbox) -> None:
    messages.success(
        request,
        _("%(email)s is connected. Its email will start syncing.") % {"email": mailbox.email},
    )
