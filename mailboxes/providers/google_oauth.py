"""Connect a Gmail inbox with Google's OAuth 2.0 web-server flow (with PKCE).

The view calls `authorization_url()`, keeps the returned state and code verifier in the
user's session, redirects the browser, and on the callback compares the state it kept with
the one Google sent back (constant time) before calling `exchange_code()`.

Endpoints come from the client config ("auth_uri", "token_uri"), so tests point the flow at
a local fake. oauthlib refuses plain-http endpoints unless OAUTHLIB_INSECURE_TRANSPORT=1;
only tests (or a caller that knowingly talks to an http fake) may set it. This module never
sets it, nor OAUTHLIB_RELAX_TOKEN_SCOPE: a changed scope is handled below instead.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import google.auth.exceptions
import google.auth.jwt
import requests
from google_auth_oauthlib.flow import Flow
from oauthlib.oauth2 import InsecureTransportError, OAuth2Error

from mailboxes.providers.base import ProviderError, Sentence, gettext_noop
from mailboxes.providers.gmail import GMAIL_API_BASE, GOOGLE_TOKEN_URI
from mailboxes.providers.gmail_errors import connection_error, json_body
from mailboxes.providers.gmail_wire import api_url

GOOGLE_AUTH_URI = "https://accounts.google.com/o/oauth2/v2/auth"
GOOGLE_REVOKE_URI = "https://oauth2.googleapis.com/revoke"

GMAIL_READONLY = "https://www.googleapis.com/auth/gmail.readonly"
GMAIL_SEND = "https://www.googleapis.com/auth/gmail.send"
GMAIL_SETTINGS_BASIC = "https://www.googleapis.com/auth/gmail.settings.basic"
USERINFO_EMAIL = "https://www.googleapis.com/auth/userinfo.email"
GMAIL_SCOPES = (GMAIL_READONLY, GMAIL_SEND, GMAIL_SETTINGS_BASIC, "openid", USERINFO_EMAIL)

# What the CRM cannot work without, each with the broader scopes that also grant it
# (include_granted_scopes may hand back an older, wider grant). settings.basic is asked for
# but not required: sendAs.list also works under gmail.readonly.
REQUIRED_SCOPES = {
    GMAIL_READONLY: {
        GMAIL_READONLY,
        "https://www.googleapis.com/auth/gmail.modify",
        "https://mail.google.com/",
    },
    GMAIL_SEND: {
        GMAIL_SEND,
        "https://www.googleapis.com/auth/gmail.compose",
        "https://www.googleapis.com/auth/gmail.modify",
        "https://mail.google.com/",
    },
}
# Words for the consent screen's check boxes, so the error tells the user what to tick
# (translated as Google words them in each language).
SCOPE_LABELS = {
    GMAIL_READONLY: gettext_noop("View your email messages and settings"),
    GMAIL_SEND: gettext_noop("Send email on your behalf"),
}
# Refresh tokens of apps in "Testing" publishing status die 7 days after the grant.
TESTING_MODE_LIFETIME = timedelta(days=7)
# Only grants of these scopes escape the 7-day limit.
IDENTITY_ONLY_SCOPES = {"openid", "email", "profile", USERINFO_EMAIL}
IDENTITY_ONLY_SCOPES |= {"https://www.googleapis.com/auth/userinfo.profile"}


class MissingScopesError(ProviderError):
    """The user unticked a permission the CRM needs on Google's consent screen."""

    def __init__(self, missing: tuple[str, ...]) -> None:
        labels = quoted_list(Sentence(SCOPE_LABELS[s]) if s in SCOPE_LABELS else s for s in missing)
        super().__init__(
            Sentence(
                gettext_noop(
                    "Google was not given every permission the CRM needs (%(labels)s). Connect "
                    "again and leave every box on Google's consent screen ticked."
                ),
                labels=labels,
            ),
            stage="auth",
            permanent=True,
        )
        self.missing = missing

    def __reduce__(self):
        # Keep the type and the missing scopes across process boundaries (Celery).
        return (MissingScopesError, (self.missing,))


def quoted_list(items) -> Sentence:
    """`"a", "b"`: the items quoted and joined, each a placeholder so each is translated."""
    names = {f"item{n}": item for n, item in enumerate(items)}
    return Sentence(", ".join(f'"%({name})s"' for name in names), **names)


def client_config(
    client_id: str,
    client_secret: str,
    *,
    auth_uri: str = GOOGLE_AUTH_URI,
    token_uri: str = GOOGLE_TOKEN_URI,
) -> dict:
    """Return a Google "web" client config, the shape google-auth-oauthlib reads."""
    return {
        "web": {
            "client_id": client_id,
            "client_secret": client_secret,
            "auth_uri": auth_uri,
            "token_uri": token_uri,
        }
    }


def authorization_url(
    client_config: dict,
    redirect_uri: str,
    login_hint: str | None,
    state: str | None = None,
) -> tuple[str, str, str]:
    """Return (url, state, code_verifier) for sending the user to Google's consent screen.

    Offline access gets a refresh token; prompt=consent gets one again when the user has
    connected before (Google hands it out only on consent). Keep state and code_verifier
    in the session for the callback.
    """
    flow = Flow.from_client_config(client_config, scopes=list(GMAIL_SCOPES))
    flow.redirect_uri = redirect_uri
    extras: dict[str, Any] = {
        "access_type": "offline",
        "prompt": "consent",
        "include_granted_scopes": "true",
    }
    if login_hint:
        extras["login_hint"] = login_hint
    try:
        url, state = flow.authorization_url(state=state, **extras)
    except InsecureTransportError as exc:
        raise insecure_transport_error() from exc
    return url, state, flow.code_verifier


def exchange_code(
    client_config: dict,
    redirect_uri: str,
    code: str,
    code_verifier: str,
    state: str | None = None,
    *,
    api_base: str = GMAIL_API_BASE,
    timeout: float = 30.0,
) -> dict:
    """Trade the callback's code for tokens, check the grant, and find the account's address.

    Returns {"access_token", "refresh_token", "expiry" (aware UTC), "scope" (space-
    separated), "email", "granted_at"}. Raises MissingScopesError when the user unticked a
    needed permission, and a permanent "auth" ProviderError for a used or expired code or
    a grant without a refresh token.
    """
    flow = Flow.from_client_config(
        client_config,
        scopes=list(GMAIL_SCOPES),
        state=state,
        code_verifier=code_verifier,
        autogenerate_code_verifier=False,
    )
    flow.redirect_uri = redirect_uri
    token = fetch_token(flow, code, timeout)
    granted = scope_list(token.get("scope"))
    missing = missing_scopes(granted)
    if missing:
        raise MissingScopesError(missing)
    if not token.get("refresh_token"):
        raise ProviderError(
            Sentence(
                gettext_noop(
                    "Google did not hand out a refresh token. Remove the CRM's access at "
                    "https://myaccount.google.com/permissions, then connect again."
                )
            ),
            stage="auth",
            permanent=True,
        )
    client_id = next(iter(client_config.values()))["client_id"]
    address = email_from_id_token(token.get("id_token"), client_id) or profile_email(
        api_base, token["access_token"], timeout
    )
    return {
        "access_token": token["access_token"],
        "refresh_token": token["refresh_token"],
        "expiry": token_expiry(token),
        "scope": " ".join(granted),
        "email": address,
        "granted_at": datetime.now(UTC),
    }


def fetch_token(flow: Flow, code: str, timeout: float) -> dict:
    """Run the code exchange, mapping oauthlib's and requests' errors to ProviderError."""
    try:
        return dict(flow.fetch_token(code=code, timeout=timeout))
    except InsecureTransportError as exc:
        raise insecure_transport_error() from exc
    except OAuth2Error as exc:
        # invalid_grant here means the code was used already, expired (about ten minutes),
        # or the code verifier does not match: the user simply starts again.
        raise ProviderError(
            Sentence(
                gettext_noop(
                    "Google did not accept the sign-in (%(error)s: %(description)s). Please "
                    "connect again."
                ),
                error=exc.error,
                description=exc.description,
            ),
            stage="auth",
            permanent=True,
        ) from exc
    except requests.RequestException as exc:
        raise connection_error(exc, flow.client_config["token_uri"], timeout) from exc
    except Warning as exc:
        # oauthlib raises a bare Warning carrying the token when the granted scopes differ
        # from the requested ones (granular consent); the scopes are checked by the caller.
        token = getattr(exc, "token", None)
        if token is None:
            raise
        return dict(token)


def insecure_transport_error() -> ProviderError:
    """Explain oauthlib's refusal of a plain-http Google endpoint."""
    return ProviderError(
        Sentence(
            gettext_noop(
                "Google's OAuth endpoints must use https (OAUTHLIB_INSECURE_TRANSPORT=1 is for "
                "local test fakes only)."
            )
        ),
        stage="tls",
        permanent=True,
    )


def scope_list(scope: Any) -> list[str]:
    """Return granted scopes as a list, whether oauthlib left them a string or a list."""
    if isinstance(scope, str):
        return scope.split()
    return [str(s) for s in scope or ()]


def missing_scopes(granted: list[str]) -> tuple[str, ...]:
    """Return the required scopes that nothing in `granted` covers."""
    have = set(granted)
    return tuple(scope for scope, covers in REQUIRED_SCOPES.items() if not have & covers)


def token_expiry(token: dict) -> datetime | None:
    """Return the access token's expiry from oauthlib's expires_at, as aware UTC."""
    expires_at = token.get("expires_at")
    if expires_at is None:
        return None
    return datetime.fromtimestamp(float(expires_at), UTC)


def email_from_id_token(id_token: str | None, client_id: str) -> str | None:
    """Return the verified address in an ID token meant for this client, else None.

    The signature is not checked: the token came straight from Google's token endpoint over
    TLS, which OpenID Connect Core (3.1.3.7) accepts in place of the signature.
    """
    if not id_token:
        return None
    try:
        claims = google.auth.jwt.decode(id_token, verify=False)
    except (ValueError, google.auth.exceptions.GoogleAuthError):
        return None
    audience = claims.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    if client_id not in audiences or claims.get("email_verified") not in (True, "true"):
        return None
    address = claims.get("email")
    return str(address) if address else None


def profile_email(api_base: str, access_token: str, timeout: float) -> str:
    """Return the account's address from Gmail's getProfile."""
    url = api_url(api_base, "profile")
    try:
        response = requests.get(
            url, headers={"Authorization": f"Bearer {access_token}"}, timeout=timeout
        )
    except requests.RequestException as exc:
        raise connection_error(exc, url, timeout) from exc
    if response.status_code != 200:
        raise ProviderError(
            Sentence(
                gettext_noop("Gmail did not tell which account was connected (HTTP %(status)s)."),
                status=response.status_code,
            ),
            stage="auth",
            permanent=True,
            code=response.status_code,
        )
    action = Sentence(gettext_noop("reading the account profile"))
    return str(json_body(response, action).get("emailAddress", ""))


def revoke(token: str, revoke_uri: str = GOOGLE_REVOKE_URI, timeout: float = 30.0) -> bool:
    """Revoke a refresh or access token (and those derived from it) at Google.

    Returns True when revoked now and False when Google says the token is already invalid,
    which is just as good when disconnecting an inbox.
    """
    try:
        response = requests.post(
            revoke_uri,
            data={"token": token},
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            timeout=timeout,
        )
    except requests.RequestException as exc:
        raise connection_error(exc, revoke_uri, timeout) from exc
    if response.status_code == 200:
        return True
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        error = None
    if response.status_code == 400 and error in ("invalid_token", "invalid_request"):
        return False
    raise ProviderError(
        Sentence(
            gettext_noop("Google could not revoke the token (HTTP %(status)s); try again later."),
            status=response.status_code,
        ),
        permanent=response.status_code < 500,
        code=response.status_code,
    )


def looks_like_testing_mode(
    granted_at: datetime,
    failed_at: datetime,
    scopes: list[str] | tuple[str, ...] | None = None,
    slack: timedelta = timedelta(days=1),
) -> bool:
    """Guess whether an invalid_grant came from the Google app's "Testing" status.

    Google sends the same "Token has been expired or revoked." either way, so this only
    looks at timing: the grant died about seven days after it was made (allowing an hour
    for clock differences, and `slack` for an inbox that was not synced for a while).
    Grants of identity scopes alone never expire this way. Use it to word the admin's
    warning ("publish the app in Google Cloud"), never to decide anything automatically.
    """
    if scopes is not None and set(scopes) <= IDENTITY_ONLY_SCOPES:
        return False
    lived = failed_at - granted_at
    return TESTING_MODE_LIFETIME - timedelta(hours=1) <= lived <= TESTING_MODE_LIFETIME + slack
