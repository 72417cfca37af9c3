"""What Exchange's, exchangelib's and the network's failures mean for the user, as
`ProviderError`s (`ews_error`), and why Autodiscover found no server."""

from __future__ import annotations

import socket
import ssl
from urllib.parse import urlsplit

import dns.exception
import requests
from exchangelib.autodiscover.discovery import DNS_LOOKUP_ERRORS, Autodiscovery
from exchangelib.errors import (
    AutoDiscoverError,
    CASError,
    ErrorServerBusy,
    EWSError,
    RedirectError,
    ResponseMessageError,
    UnauthorizedError,
)

from mailboxes.providers.base import (
    AddressNotAllowed,
    ProviderError,
    Sentence,
    exception_chain,
    first_of,
    gettext_noop,
    refused_address,
)
from mailboxes.providers.ews_urls import ews_url_from_webmail

# When a busy or failing server gives no back-off hint.
RETRY_AFTER = 60.0
# Response codes that say "later", not "never" (exchangelib raises them by these names).
TEMPORARY_CODES = {
    "ErrorADUnavailable",
    "ErrorConnectionFailed",
    "ErrorExceededConnectionCount",
    "ErrorInternalServerError",
    "ErrorInternalServerTransientError",
    "ErrorMailboxMoveInProgress",
    "ErrorMailboxStoreUnavailable",
    "ErrorSubmissionQuotaExceeded",
    "ErrorTimeoutExpired",
    "ErrorTooManyObjectsOpened",
}
AUTH_CODES = {
    "ErrorAccessDenied",
    "ErrorAccountDisabled",
    "ErrorImpersonateUserDenied",
    "ErrorNonExistentMailbox",
}
# A server that answers SOAP but no EWS version we speak, or not EWS at all.
PROTOCOL_CODES = {
    "ErrorIncorrectSchemaVersion",
    "ErrorInvalidSchemaVersionForMailboxVersion",
    "ErrorInvalidServerVersion",
}
EWS_URL_HINT = gettext_noop("it usually looks like https://mail.example.com/EWS/Exchange.asmx")


def network_error(exc: BaseException, url: str, sending: bool) -> ProviderError | None:
    """Explain a failure below HTTP (DNS, TCP, TLS), or return None if it was not one."""
    chain = exception_chain(exc)

    parts = urlsplit(url)
    host = parts.hostname or Sentence(gettext_noop("the Exchange server"))
    where = Sentence(
        gettext_noop("%(host)s port %(port)s"),
        host=host,
        port=parts.port or (80 if parts.scheme == "http" else 443),
    )
    if refused := first_of(chain, AddressNotAllowed):
        return refused_address(refused)
    if first_of(chain, socket.gaierror):
        return ProviderError(
            Sentence(
                gettext_noop("Could not resolve %(host)s: check the server name in the EWS URL."),
                host=host,
            ),
            stage="dns",
        )
    if cert_error := first_of(chain, ssl.SSLCertVerificationError):
        reason = getattr(cert_error, "verify_message", "") or Sentence(gettext_noop("not trusted"))
        return ProviderError(
            Sentence(
                gettext_noop(
                    "The certificate of %(host)s could not be verified (%(reason)s). Check the "
                    'EWS URL, or turn on "trust any certificate" if you trust this server.'
                ),
                host=host,
                reason=reason,
            ),
            stage="tls",
            permanent=True,
        )
    if tls_error := first_of(chain, ssl.SSLError):
        reason = getattr(tls_error, "reason", None) or tls_error
        return ProviderError(
            Sentence(
                gettext_noop(
                    "The secure connection to %(where)s failed (%(reason)s). EWS URLs start with "
                    "https:// and use the port of the webmail address."
                ),
                where=where,
                reason=str(reason),
            ),
            stage="tls",
        )
    if first_of(chain, ConnectionRefusedError):
        return ProviderError(
            Sentence(
                gettext_noop("%(where)s refused the connection: check the EWS URL."), where=where
            ),
            stage="tcp",
        )
    if first_of(chain, TimeoutError) or first_of(chain, requests.Timeout):
        if sending:
            words = gettext_noop(
                "%(where)s did not answer in time. The message may or may not have been sent: "
                "look in Sent Items before sending again."
            )
        else:
            words = gettext_noop("%(where)s did not answer in time.")
        return ProviderError(Sentence(words, where=where), stage="tcp", maybe_sent=sending)
    if os_error := first_of(chain, OSError) or first_of(chain, requests.ConnectionError):
        reason = getattr(os_error, "strerror", None) or os_error
        if sending:
            words = gettext_noop(
                "Could not talk to %(where)s (%(reason)s). The message may or may not have been "
                "sent: look in Sent Items before sending again."
            )
        else:
            words = gettext_noop("Could not talk to %(where)s (%(reason)s).")
        return ProviderError(
            Sentence(words, where=where, reason=str(reason)), stage="tcp", maybe_sent=sending
        )
    return None


def ews_error(
    exc: BaseException, action: Sentence, url: str, sending: bool = False
) -> ProviderError:
    """Classify an exchangelib, requests or socket error raised while doing `action`."""
    if network := network_error(exc, url, sending):
        return network
    code = type(exc).__name__
    if isinstance(exc, UnauthorizedError):
        return ProviderError(
            Sentence(
                gettext_noop(
                    "Exchange rejected the username or password. Check them; some servers want "
                    "the username as DOMAIN\\user, and accounts with two-step verification need "
                    "an app password."
                )
            ),
            stage="auth",
            permanent=True,
        )
    if isinstance(exc, ErrorServerBusy):
        return ProviderError(
            Sentence(
                gettext_noop("Exchange is busy and asked us to wait before %(action)s."),
                action=action,
            ),
            retry_after=exc.back_off or RETRY_AFTER,
        )
    if code in TEMPORARY_CODES:
        return ProviderError(
            Sentence(
                gettext_noop(
                    "Exchange could not finish %(action)s right now (%(code)s). Trying again later."
                ),
                action=action,
                code=code,
            ),
            retry_after=RETRY_AFTER,
        )
    if code == "ErrorNonExistentMailbox":
        return ProviderError(
            Sentence(
                gettext_noop(
                    "Exchange has no mailbox for this address (%(error)s). Check the email address."
                ),
                error=str(exc),
            ),
            stage="auth",
            permanent=True,
        )
    if code in AUTH_CODES:
        return ProviderError(
            Sentence(
                gettext_noop("Exchange refused access while %(action)s (%(code)s: %(error)s)."),
                action=action,
                code=code,
                error=str(exc),
            ),
            stage="auth",
            permanent=True,
        )
    if isinstance(exc, RedirectError):
        return not_ews(url, Sentence(gettext_noop("it redirects to %(url)s"), url=exc.url))
    if isinstance(exc, CASError):
        return ProviderError(
            Sentence(
                gettext_noop(
                    "The Exchange front end could not reach the mailbox while %(action)s "
                    "(%(error)s)."
                ),
                action=action,
                error=str(exc),
            ),
            stage="protocol",
            retry_after=RETRY_AFTER,
        )
    if code in PROTOCOL_CODES:
        return not_ews(url, str(exc))
    if isinstance(exc, ResponseMessageError):
        return ProviderError(
            Sentence(
                gettext_noop("Exchange refused %(action)s (%(code)s: %(error)s)."),
                action=action,
                code=code,
                error=str(exc),
            ),
            permanent=True,
        )
    if isinstance(exc, EWSError):
        # SOAP faults, unparsable replies, "Failed to get auth type from service".
        return not_ews(url, str(exc))
    return ProviderError(
        Sentence(
            gettext_noop("Exchange failed while %(action)s (%(error)s)."),
            action=action,
            error=str(exc),
        )
    )


def not_ews(url: str, detail: str) -> ProviderError:
    """Explain that the URL answers HTTP but not as Exchange Web Services."""
    suggestion = ews_url_from_webmail(url)
    where = url or Sentence(gettext_noop("The server"))
    if suggestion and suggestion.lower() != url.lower():
        words = Sentence(
            gettext_noop(
                "%(url)s does not answer like Exchange Web Services (%(detail)s). Did you mean "
                "%(suggestion)s?"
            ),
            url=where,
            detail=detail,
            suggestion=suggestion,
        )
    else:
        words = Sentence(
            gettext_noop(
                "%(url)s does not answer like Exchange Web Services (%(detail)s). Check the EWS "
                "URL: %(hint)s."
            ),
            url=where,
            detail=detail,
            hint=Sentence(EWS_URL_HINT),
        )
    return ProviderError(
        words,
        stage="protocol",
        permanent=True,
    )


def autodiscover_failure(email: str, exc: AutoDiscoverError) -> ProviderError:
    """Explain a failed Autodiscover and ask for the EWS URL.

    exchangelib skips hosts without an A record and reports only "all steps failed", so DNS
    is asked again to tell "no such names" (stage "dns") from "the servers there did not
    answer as Autodiscover" ("protocol").
    """
    domain = email.rsplit("@", 1)[-1].lower()
    ask = Sentence(
        gettext_noop("Fill in the EWS URL (%(hint)s; the address of your webmail works too)."),
        hint=Sentence(EWS_URL_HINT),
    )
    if not autodiscover_names_exist(email):
        return ProviderError(
            Sentence(
                gettext_noop(
                    "Autodiscover found no server for %(domain)s: neither %(domain)s, "
                    "autodiscover.%(domain)s nor an _autodiscover._tcp.%(domain)s record exists "
                    "in DNS. %(ask)s"
                ),
                domain=domain,
                ask=ask,
            ),
            stage="dns",
            permanent=True,
        )
    detail = str(exc)
    if detail.startswith("All steps"):
        detail = Sentence(gettext_noop("no autodiscover address answered"))
    return ProviderError(
        Sentence(
            gettext_noop(
                "Autodiscover could not find the Exchange server for %(email)s (%(detail)s). "
                "%(ask)s"
            ),
            email=email,
            detail=detail,
            ask=ask,
        ),
        stage="protocol",
        permanent=True,
    )


def autodiscover_names_exist(email: str) -> bool:
    """Return whether any name Autodiscover looks up for `email` exists in DNS."""
    domain = email.rsplit("@", 1)[-1].rstrip(".").lower()
    # exchangelib's own resolver settings, so this asks what Autodiscover asked.
    resolver = Autodiscovery(email=email).resolver
    lookups = (
        (domain, "A"),
        (f"autodiscover.{domain}", "A"),
        (f"_autodiscover._tcp.{domain}", "SRV"),
    )
    for name, rdtype in lookups:
        try:
            resolver.resolve(f"{name}.", rdtype, lifetime=Autodiscovery.DNS_RESOLVER_LIFETIME)
        except DNS_LOOKUP_ERRORS:
            continue
        except dns.exception.DNSException:
            return True  # DNS answered oddly: do not blame missing names
        return True
    return False
