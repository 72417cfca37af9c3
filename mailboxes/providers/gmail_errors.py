"""What went wrong talking to Google, as a ProviderError people can act on: a refused or
failed token refresh, the Gmail API's error replies (rate, daily quota, scopes, server
errors, each with its retry hint), a connection that failed, and whether a send that failed
may still have arrived. Each message is a Sentence, translated where it is shown."""

from __future__ import annotations

import email.utils
import socket
import ssl
from datetime import UTC, datetime
from urllib.parse import urlsplit

import google.auth.exceptions
import google.auth.transport.requests
import google.oauth2.credentials
import requests
import requests.structures
import urllib3.exceptions

from mailboxes.providers.base import (
    ProviderError,
    Sentence,
    exception_chain,
    first_of,
    gettext_noop,
)
from mailboxes.providers.headers import (
    CONTROL_CHARS,
)

# Back-off hints when Google does not send Retry-After. Quotas are per minute, so half a
# minute usually clears a per-user burst; the daily window's reset time is not published,
# and probing once an hour costs one request.
RATE_LIMIT_RETRY_AFTER = 30.0
DAILY_LIMIT_RETRY_AFTER = 3600.0
SERVER_ERROR_RETRY_AFTER = 60.0
RATE_LIMIT_REASONS = {"userRateLimitExceeded", "rateLimitExceeded"}
SCOPE_REASONS = {"insufficientPermissions", "ACCESS_TOKEN_SCOPE_INSUFFICIENT"}
RECONNECT_MESSAGE = gettext_noop("Google no longer accepts this connection; reconnect the inbox.")


def is_invalid_grant(error: ProviderError) -> bool:
    """Tell whether Google refused the refresh token itself (revoked, expired, Testing mode)."""
    return error.stage == "auth" and error.permanent and "invalid_grant" in error.message


def refresh_error(exc: google.auth.exceptions.RefreshError) -> ProviderError:
    """Explain a failed token refresh; invalid_grant means the user must reconnect."""
    details = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], dict) else {}
    text = str(exc.args[0]) if exc.args else str(exc)
    error = str(details.get("error") or "")
    if getattr(exc, "retryable", False):
        return ProviderError(
            Sentence(
                gettext_noop(
                    "Google could not renew the access token right now (%(error)s). Trying again "
                    "later."
                ),
                error=text,
            ),
            stage="auth",
            retry_after=SERVER_ERROR_RETRY_AFTER,
        )
    # Detected by text as well as by field: google-auth puts the body in args[1] only when
    # it was JSON, and "invalid_grant" leads args[0] either way.
    if error == "invalid_grant" or "invalid_grant" in text:
        description = details.get("error_description") or "Token has been expired or revoked."
        return ProviderError(
            Sentence(
                gettext_noop(
                    "Google no longer accepts this connection; reconnect the inbox "
                    "(invalid_grant: %(description)s)."
                ),
                description=description,
            ),
            stage="auth",
            permanent=True,
        )
    if error in ("invalid_client", "unauthorized_client") or "invalid_client" in text:
        return ProviderError(
            Sentence(
                gettext_noop(
                    "Google rejected the app's client ID or secret (%(error)s); check the Google "
                    "OAuth settings, then reconnect the inbox."
                ),
                error=text,
            ),
            stage="auth",
            permanent=True,
        )
    return ProviderError(
        Sentence(
            gettext_noop(
                "Google no longer accepts this connection; reconnect the inbox (%(error)s)."
            ),
            error=text,
        ),
        stage="auth",
        permanent=True,
    )


def is_rate_limited(response) -> bool:
    """Tell whether Google refused a call for the rate (not the daily quota)."""
    status = response.status_code
    return status == 429 or (status == 403 and error_details(response)[1] in RATE_LIMIT_REASONS)


def api_error(response: requests.Response, action: str) -> ProviderError:
    """Map a Gmail error reply to a ProviderError, following Google's error guide."""
    status = response.status_code
    message, reason = error_details(response)
    if message:
        detail = Sentence(
            gettext_noop("Gmail refused %(action)s: %(reply)s"), action=action, reply=message
        )
    else:
        detail = Sentence(gettext_noop("Gmail refused %(action)s"), action=action)
    if status == 429 or (status == 403 and reason in RATE_LIMIT_REASONS):
        return ProviderError(
            Sentence(
                gettext_noop("%(detail)s. Gmail asks us to slow down; trying again shortly."),
                detail=detail,
            ),
            retry_after=retry_after(response, RATE_LIMIT_RETRY_AFTER),
            code=status,
        )
    if status == 403 and reason == "dailyLimitExceeded":
        return ProviderError(
            Sentence(
                gettext_noop(
                    "%(detail)s. The daily Gmail API quota is used up; trying again later."
                ),
                detail=detail,
            ),
            retry_after=retry_after(response, DAILY_LIMIT_RETRY_AFTER),
            code=status,
        )
    if status == 403 and reason in SCOPE_REASONS:
        return ProviderError(
            Sentence(
                gettext_noop(
                    "%(detail)s. Google was not given every permission the CRM needs; reconnect "
                    "the inbox and tick every box on Google's consent screen."
                ),
                detail=detail,
            ),
            stage="auth",
            permanent=True,
            code=status,
        )
    if status == 403:
        return ProviderError(
            Sentence(gettext_noop("%(detail)s."), detail=detail),
            stage="auth",
            permanent=True,
            code=status,
        )
    if status >= 500:
        return ProviderError(
            Sentence(
                gettext_noop("%(detail)s. Google had a server error; trying again later."),
                detail=detail,
            ),
            retry_after=retry_after(response, SERVER_ERROR_RETRY_AFTER),
            code=status,
        )
    return ProviderError(
        Sentence(gettext_noop("%(detail)s."), detail=detail),
        stage="protocol",
        permanent=True,
        code=status,
    )


def error_details(response: requests.Response) -> tuple[str, str]:
    """Return (message, first errors[].reason) from Google's error body, or blanks."""
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        return "", ""
    if not isinstance(error, dict):
        return str(error or ""), ""
    reasons = [e.get("reason", "") for e in error.get("errors", []) if isinstance(e, dict)]
    # Newer Google errors carry the reason only in details[].reason (ErrorInfo).
    reasons += [d.get("reason", "") for d in error.get("details", []) if isinstance(d, dict)]
    reason = next((r for r in reasons if r), "")
    return CONTROL_CHARS.sub("", str(error.get("message", "")))[:300], reason


def retry_after(response: requests.Response, default: float) -> float:
    """Return the Retry-After header in seconds (number or HTTP date), else `default`."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return default
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return default
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def json_body(response: requests.Response, action: str) -> dict:
    """Return a JSON object body; anything else means we are not talking to Gmail."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        host = urlsplit(response.url).netloc
        raise ProviderError(
            Sentence(
                gettext_noop("%(host)s did not answer like the Gmail API while %(action)s."),
                host=host,
                action=action,
            ),
            stage="protocol",
            permanent=True,
            code=response.status_code,
        )
    return body


def connection_error(exc: BaseException, url: str, timeout: float) -> ProviderError:
    """Explain a failure to reach a Google endpoint, by the first stage that went wrong."""
    chain = exception_chain(exc)
    host = urlsplit(url).hostname or url
    where = urlsplit(url).netloc or url

    if first_of(chain, (socket.gaierror, urllib3.exceptions.NameResolutionError)):
        return ProviderError(
            Sentence(
                gettext_noop("Could not resolve %(host)s: check DNS on this server."), host=host
            ),
            stage="dns",
        )
    if first_of(chain, (ssl.SSLError, requests.exceptions.SSLError)):
        return ProviderError(
            Sentence(
                gettext_noop(
                    "The secure connection to %(where)s failed; check the server's clock and CA "
                    "certificates."
                ),
                where=where,
            ),
            stage="tls",
        )
    if first_of(chain, ConnectionRefusedError):
        return ProviderError(
            Sentence(gettext_noop("%(where)s refused the connection."), where=where), stage="tcp"
        )
    if first_of(chain, (requests.Timeout, TimeoutError)):
        return ProviderError(
            Sentence(
                gettext_noop("No answer from %(where)s within %(timeout)g seconds."),
                where=where,
                timeout=timeout,
            ),
            stage="tcp",
        )
    return ProviderError(
        Sentence(
            gettext_noop("Could not talk to %(where)s (%(error)s)."),
            where=where,
            error=exc.__class__.__name__,
        ),
        stage="tcp",
    )


def may_have_arrived(exc: requests.RequestException) -> bool:
    """Tell whether a failed request may have reached Google before the failure."""
    if isinstance(exc, requests.ConnectTimeout):
        return False
    # NewConnectionError covers refused connections and failed name lookups.
    unreached = (ConnectionRefusedError, socket.gaierror, urllib3.exceptions.NewConnectionError)
    return first_of(exception_chain(exc), unreached) is None
