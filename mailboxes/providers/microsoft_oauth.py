"""Connect an Office 365 inbox with OAuth and keep its tokens fresh, through msal.

Three steps: `start_auth()` builds the sign-in URL and a flow dict that the caller keeps in
the user's session; `finish_auth()` redeems the code from the callback; `refresh()` trades a
refresh token for new tokens. Failures raise `MicrosoftAuthError`, a `ProviderError` whose
`reason` says what the user or an administrator must do, decided on the AADSTS number
(Microsoft documents the description text as unstable).

msal quirks that shape this module:
- A fresh `ConfidentialClientApplication` is built for every call. msal caches an HTTP 400
  answer to an identical token POST for 60 seconds and short-circuits requests after a
  429/5xx, so a long-lived app object would replay a stale failure to the next caller. The
  price is one discovery GET per call (about once an hour per inbox).
- msal returns token errors as dicts and raises only for client-side problems (state
  mismatch: ValueError; nonce mismatch: RuntimeError; network: requests exceptions).
- Microsoft rotates refresh tokens: every refresh answers with a new one. The old one stays
  valid until it expires, so two workers refreshing at once both end up with working tokens;
  the caller must still persist the newest one every time.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlparse

import msal
import requests
from msal.exceptions import MsalServiceError

from mailboxes.providers.base import ProviderError, Sentence, Stage, gettext_noop

GRAPH = "https://graph.microsoft.com"
# Reading (delta, $value), sending (sendMail), the shared-mailbox check (mailboxSettings)
# and the account's address (/me). msal adds openid, profile and offline_access itself and
# refuses them here.
GRAPH_SCOPES = [
    f"{GRAPH}/Mail.ReadWrite",
    f"{GRAPH}/Mail.Send",
    f"{GRAPH}/MailboxSettings.Read",
    f"{GRAPH}/User.Read",
]
DEFAULT_AUTHORITY = "https://login.microsoftonline.com/common"
DEFAULT_TIMEOUT = 30.0

# Why a token request was refused, by AADSTS number, in words for the inbox owner.
RECONNECT_CODES = {
    700082: gettext_noop("the connection expired after 90 days without use; reconnect the inbox"),
    50173: gettext_noop(
        "Microsoft revoked the connection (the password was changed or reset, or an "
        "administrator signed the account out); reconnect the inbox"
    ),
    700084: gettext_noop(
        "the sign-in expired (single-page-app sign-ins last 24 hours); reconnect the inbox"
    ),
    70008: gettext_noop("the sign-in expired; reconnect the inbox"),
    54005: gettext_noop("this sign-in code was already used; start connecting the inbox again"),
    65001: gettext_noop(
        "Microsoft needs consent for the mail permissions; reconnect and accept them, or ask "
        "an administrator to grant consent"
    ),
}
MFA_CODES = {50076, 50079}
MFA_MESSAGE = gettext_noop(
    "Microsoft asks you to sign in again (multi-factor authentication or a changed sign-in "
    "policy); reconnect the inbox and complete the sign-in"
)
ADMIN_MESSAGE = gettext_noop(
    "Microsoft rejected this server's app credentials (the client secret is wrong or has "
    "expired). An administrator must update MICROSOFT_CLIENT_ID / MICROSOFT_CLIENT_SECRET"
)
# "Office 365: <one of the reasons above> (AADSTS<n>)."
OFFICE_365_REASON = gettext_noop("Office 365: %(why)s%(suffix)s.")
TEMPORARY_ERRORS = {"temporarily_unavailable", "server_error"}
AADSTS = re.compile(r"AADSTS(\d+)")


class MicrosoftAuthError(ProviderError):
    """Report a failed sign-in or token refresh with what must happen next.

    `reason` is one of "reconnect" (the inbox owner signs in again), "mfa" (the same, with
    a multi-factor hint), "admin" (the app registration or the server settings are wrong),
    "denied" (the user cancelled or declined consent), "state" (a stale or foreign callback),
    "nonce" (the id token does not belong to this sign-in) or "temporary".
    `code` is the AADSTS number when Microsoft sent one.
    """

    def __init__(
        self,
        message: str,
        *,
        reason: str,
        stage: Stage = "auth",
        permanent: bool = True,
        retry_after: float | None = None,
        code: int | None = None,
    ) -> None:
        super().__init__(
            message, stage=stage, permanent=permanent, retry_after=retry_after, code=code
        )
        self.reason = reason

    @property
    def needs_reconnect(self) -> bool:
        """Tell whether the inbox must be marked "needs reconnect"."""
        return self.reason in ("reconnect", "mfa")

    def __reduce__(self):
        # Keep the subclass and its reason across process boundaries (Celery results).
        kwargs = {
            "reason": self.reason,
            "stage": self.stage,
            "permanent": self.permanent,
            "retry_after": self.retry_after,
            "code": self.code,
        }
        return (_rebuild, (self.message, kwargs))


def _rebuild(message: str, kwargs: dict) -> MicrosoftAuthError:
    return MicrosoftAuthError(message, **kwargs)


# -- the three steps ------------------------------------------------------------------------


def start_auth(
    client_id: str,
    client_secret: str,
    authority: str,
    redirect_uri: str,
    login_hint: str | None = None,
    *,
    scopes: list[str] | None = None,
    prompt: str | None = "select_account",
    response_mode: str = "query",
    verify: str | bool = True,
    timeout: float = DEFAULT_TIMEOUT,
) -> dict:
    """Begin the authorization-code flow and return msal's flow dict.

    Redirect the browser to `flow["auth_uri"]`. Keep the whole dict (it is JSON-safe) in the
    user's session: it holds the state, the PKCE verifier and the nonce that `finish_auth()`
    checks the callback against.

    The callback comes back as a GET with the code in the query by default. msal recommends
    response_mode="form_post", but a cross-site POST carries no SameSite=Lax session cookie,
    so the view would not find the flow; PKCE, state and nonce protect the query mode.
    """
    with msal_app(client_id, client_secret, authority, verify=verify, timeout=timeout) as app:
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="response_mode='form_post'")
                return app.initiate_auth_code_flow(
                    list(scopes or GRAPH_SCOPES),
                    redirect_uri=redirect_uri,
                    login_hint=login_hint or None,
                    prompt=prompt,
                    response_mode=response_mode,
                )
        except ValueError as exc:
            raise config_error(
                Sentence(
                    gettext_noop("the sign-in request could not be built (%(error)s)"),
                    error=str(exc),
                )
            ) from exc


def finish_auth(
    client_id: str,
    client_secret: str,
    authority: str,
    flow: dict | None,
    callback_params: dict,
    *,
    verify: str | bool = True,
    timeout: float = DEFAULT_TIMEOUT,
) -> dict:
    """Redeem the callback's code and return the tokens (see `tokens_from_result`).

    `callback_params` are the query parameters of the redirect (code, state, or error).
    Raises MicrosoftAuthError with reason "denied", "state" or "nonce" for the ways a
    callback goes wrong, and the token-error reasons for a refused code.
    """
    params = {key: value for key, value in callback_params.items() if isinstance(value, str)}
    if not flow or not flow.get("state"):
        raise MicrosoftAuthError(
            Sentence(
                gettext_noop(
                    "The sign-in session was not found (it expired, or the callback was opened "
                    "in another browser). Start connecting the inbox again."
                )
            ),
            reason="state",
        )
    try:
        with msal_app(client_id, client_secret, authority, verify=verify, timeout=timeout) as app:
            # msal pops keys from the flow; the session's copy stays intact.
            result = call_msal(lambda: app.acquire_token_by_auth_code_flow(dict(flow), params))
    except ValueError as exc:
        # msal raises ValueError for a state that does not match the flow (CSRF, a second
        # tab, a replayed callback).
        raise MicrosoftAuthError(
            Sentence(
                gettext_noop(
                    "The sign-in answer does not belong to this sign-in (state mismatch). Start "
                    "connecting the inbox again."
                )
            ),
            reason="state",
        ) from exc
    except RuntimeError as exc:
        # msal checks the id token's nonce against the flow's and raises RuntimeError.
        raise MicrosoftAuthError(
            Sentence(
                gettext_noop(
                    "Microsoft's answer could not be verified (the id token's nonce does not "
                    "match this sign-in). Start connecting the inbox again."
                )
            ),
            reason="nonce",
        ) from exc
    if "error" in result:
        raise token_error(result)
    return tokens_from_result(result)


def refresh(
    client_id: str,
    client_secret: str,
    authority: str,
    refresh_token: str,
    *,
    scopes: list[str] | None = None,
    verify: str | bool = True,
    timeout: float = DEFAULT_TIMEOUT,
) -> dict:
    """Trade a refresh token for new tokens; the answer's refresh token replaces the old one.

    Persist the returned dict at once, whatever else happens: Microsoft rotates refresh
    tokens on every use.
    """
    with msal_app(client_id, client_secret, authority, verify=verify, timeout=timeout) as app:
        result = call_msal(
            lambda: app.acquire_token_by_refresh_token(refresh_token, list(scopes or GRAPH_SCOPES))
        )
    if "error" in result:
        raise token_error(result)
    tokens = tokens_from_result(result)
    # A refresh answer without a new refresh token (not seen from Microsoft) must not wipe
    # the one that still works.
    tokens["refresh_token"] = tokens["refresh_token"] or refresh_token
    return tokens


# -- helpers ----------------------------------------------------------------------------------


class PinnedSession(requests.Session):
    """Apply one `verify` and timeout to every request msal makes.

    requests lets REQUESTS_CA_BUNDLE override a session's `verify` (only a per-request
    value wins), which would silently ignore a CA bundle given here.
    """

    def __init__(self, verify: str | bool, timeout: float) -> None:
        super().__init__()
        self.verify = verify
        self.timeout = timeout

    def request(self, method, url, **kwargs):
        kwargs.setdefault("verify", self.verify)
        kwargs.setdefault("timeout", self.timeout)
        return super().request(method, url, **kwargs)


@contextmanager
def msal_app(
    client_id: str,
    client_secret: str,
    authority: str,
    *,
    verify: str | bool = True,
    timeout: float = DEFAULT_TIMEOUT,
) -> Iterator[msal.ConfidentialClientApplication]:
    """Yield a fresh msal app (one per call, see the module docstring) and close its session.

    The authority comes from the server's settings, never from a user, so instance
    discovery (a GET to login.microsoftonline.com that validates unknown hosts) is skipped;
    that also lets tests point it at a local fake. msal fetches the tenant's
    openid-configuration while building the app, so network failures surface here too.
    """
    check_authority(authority)
    if not client_id or not client_secret:
        raise config_error(
            Sentence(gettext_noop("MICROSOFT_CLIENT_ID and MICROSOFT_CLIENT_SECRET must be set"))
        )
    session = PinnedSession(verify, timeout)
    try:
        try:
            app = call_msal(
                lambda: msal.ConfidentialClientApplication(
                    client_id,
                    client_credential=client_secret,
                    authority=authority,
                    instance_discovery=False,
                    http_client=session,
                )
            )
        except ValueError as exc:
            # msal turns a 4xx from tenant discovery (unknown tenant) into ValueError.
            raise config_error(
                Sentence(
                    gettext_noop("the authority %(authority)s was not recognised (%(error)s)"),
                    authority=authority,
                    error=str(exc),
                )
            ) from exc
        yield app
    finally:
        session.close()


def check_authority(authority: str) -> None:
    """Refuse an authority msal cannot use: it must be https with a tenant path segment."""
    parsed = urlparse(authority or "")
    if parsed.scheme != "https" or not parsed.netloc or not parsed.path.strip("/"):
        raise config_error(
            Sentence(
                gettext_noop(
                    "MICROSOFT_AUTHORITY must look like "
                    "https://login.microsoftonline.com/<tenant> (got %(authority)r)"
                ),
                authority=authority,
            )
        )


def call_msal(call):
    """Run an msal call, turning network, TLS and server failures into temporary errors."""
    try:
        return call()
    except (MsalServiceError, json.JSONDecodeError) as exc:
        # msal raises on a 5xx from the token endpoint, and on a body that is not JSON
        # (an HTML error page from a proxy); both pass.
        raise MicrosoftAuthError(
            Sentence(
                gettext_noop("Microsoft's sign-in service failed for now; try again in a moment.")
            ),
            reason="temporary",
            permanent=False,
        ) from exc
    except requests.exceptions.SSLError as exc:
        raise MicrosoftAuthError(
            Sentence(
                gettext_noop(
                    "The secure connection to Microsoft's sign-in service failed (%(error)s)."
                ),
                error=str(exc),
            ),
            reason="temporary",
            stage="tls",
            permanent=False,
        ) from exc
    except requests.exceptions.RequestException as exc:
        raise MicrosoftAuthError(
            Sentence(
                gettext_noop(
                    "Microsoft's sign-in service could not be reached; try again in a moment."
                )
            ),
            reason="temporary",
            stage="tcp",
            permanent=False,
        ) from exc


def config_error(detail: Sentence) -> MicrosoftAuthError:
    """Return the error for a server-side configuration mistake."""
    return MicrosoftAuthError(
        Sentence(
            gettext_noop("Office 365 connections are misconfigured: %(detail)s."), detail=detail
        ),
        reason="admin",
        stage="other",
    )


def aadsts_code(result: dict) -> int | None:
    """Return the AADSTS number of a token error, from error_codes or the description."""
    codes = result.get("error_codes") or []
    if codes and str(codes[0]).isdigit():
        return int(codes[0])
    match = AADSTS.search(str(result.get("error_description") or ""))
    return int(match.group(1)) if match else None


def first_line(text: str) -> str:
    """Return the description's first line, without the trace and correlation ids."""
    return (text or "").strip().splitlines()[0] if (text or "").strip() else ""


def token_error(result: dict) -> MicrosoftAuthError:
    """Classify a token endpoint error dict by its AADSTS number, then its error name."""
    error = str(result.get("error") or "")
    code = aadsts_code(result)
    description = first_line(str(result.get("error_description") or ""))
    suffix = f" (AADSTS{code})" if code else (f" ({error})" if error else "")

    if code in RECONNECT_CODES:
        return MicrosoftAuthError(
            Sentence(OFFICE_365_REASON, why=Sentence(RECONNECT_CODES[code]), suffix=suffix),
            reason="reconnect",
            code=code,
        )
    if error == "interaction_required" or code in MFA_CODES:
        return MicrosoftAuthError(
            Sentence(OFFICE_365_REASON, why=Sentence(MFA_MESSAGE), suffix=suffix),
            reason="mfa",
            code=code,
        )
    if error in ("invalid_client", "unauthorized_client"):
        return MicrosoftAuthError(
            Sentence(OFFICE_365_REASON, why=Sentence(ADMIN_MESSAGE), suffix=suffix),
            reason="admin",
            code=code,
        )
    if error == "access_denied":
        return MicrosoftAuthError(
            Sentence(
                gettext_noop(
                    "The Microsoft sign-in was cancelled or the permissions were declined; the "
                    "inbox was not connected%(suffix)s."
                ),
                suffix=suffix,
            ),
            reason="denied",
            code=code,
        )
    if error in TEMPORARY_ERRORS or not error:
        return MicrosoftAuthError(
            Sentence(
                gettext_noop(
                    "Microsoft's sign-in service failed for now (%(error)s); try again in a moment."
                ),
                error=description or error or Sentence(gettext_noop("no answer")),
            ),
            reason="temporary",
            stage="auth",
            permanent=False,
            code=code,
        )
    if error == "invalid_grant":
        return MicrosoftAuthError(
            Sentence(
                gettext_noop(
                    "Office 365: Microsoft no longer accepts this connection (%(description)s); "
                    "reconnect the inbox%(suffix)s."
                ),
                description=description,
                suffix=suffix,
            ),
            reason="reconnect",
            code=code,
        )
    return MicrosoftAuthError(
        Sentence(
            gettext_noop("Office 365 sign-in failed: %(error)s%(suffix)s."),
            error=description or error,
            suffix=suffix,
        ),
        reason="admin",
        code=code,
    )


def tokens_from_result(result: dict, now: float | None = None) -> dict:
    """Return the token fields the product stores, from an msal success dict.

    Keys: access_token, refresh_token, expires_at (epoch seconds), scope, id_token_claims,
    home_account_id ("uid.utid" from client_info) and email (preferred_username).
    """
    now = time.time() if now is None else now
    claims = result.get("id_token_claims") or {}
    expires_in = int(result.get("expires_in") or 0)
    email = claims.get("preferred_username") or claims.get("email") or claims.get("upn") or ""
    return {
        "access_token": result.get("access_token", ""),
        "refresh_token": result.get("refresh_token", ""),
        "expires_at": int(now + expires_in),
        "scope": result.get("scope", ""),
        "id_token_claims": claims,
        "home_account_id": home_account_id(result.get("client_info"), claims),
        "email": email,
    }


def home_account_id(client_info: Any, claims: dict) -> str:
    """Return msal's "uid.utid" account id, falling back to the id token's oid and tid."""
    if isinstance(client_info, str) and client_info:
        try:
            padded = client_info + "=" * (-len(client_info) % 4)
            info = json.loads(base64.urlsafe_b64decode(padded))
            return f"{info['uid']}.{info['utid']}"
        except (binascii.Error, ValueError, KeyError, TypeError):
            pass
    if claims.get("oid") and claims.get("tid"):
        return f"{claims['oid']}.{claims['tid']}"
    return ""
