"""Bearer API keys (transactional/credentials/auth.py) for django-ninja: a key is checked on
each request, its scopes against the endpoint's. Token authentication, never the session
cookie, so no CSRF token is asked for.

The send endpoint defers the check (`ApiKey(scope, deferred=True)`): its view gets a
`KeyClaim` and checks the key inside the one statement that writes the send (send.py), or,
for anything but that common case, through `KeyClaim.check()` as the other endpoints do, so
a bad key is a 401 there too, before any other refusal (views.py checks the claim before it
answers a malformed body)."""

from ninja.security.http import HttpAuthBase

from transactional.api.errors import ApiError
from transactional.credentials.auth import authenticate_api_key, missing_scopes
from transactional.credentials.models import Credential

# Lookup id -> the scopes its key grants, learnt from a full check. A key's scopes are fixed
# when it is made (credentials/services.py), so this never goes stale; whether the key is
# live and the secret right is checked on every request all the same.
_granted: dict[str, frozenset[str]] = {}


def grants(lookup_id: str, scope: str) -> bool:
    """Whether a full check of this key in this process found it grants `scope`."""
    return scope in _granted.get(lookup_id, ())


def check(header_value: str | None, scope: str) -> Credential:
    """The live key the header names, holding `scope`; else a 401 or 403 in HubSpot's
    shape."""
    credential = authenticate_api_key(header_value)
    if credential is None:
        raise ApiError(
            401,
            "INVALID_AUTHENTICATION",
            "Authentication credentials not found or not valid: send "
            "'Authorization: Bearer <API key>' with a live key.",
        )
    if len(_granted) > 10_000:  # keys come and go: keep it small
        _granted.clear()
    _granted[credential.lookup_id] = frozenset(credential.granted_scopes())
    missing = missing_scopes(credential, scope)
    if missing:
        raise ApiError(
            403,
            "MISSING_SCOPES",
            "This API key lacks the scopes this call needs.",
            context={"missingScopes": missing},
        )
    return credential


class KeyClaim:
    """The API key a request names, not checked yet."""

    def __init__(self, header_value: str | None, scope: str):
        self.header_value, self.scope = header_value, scope
        self._credential: Credential | None = None

    def check(self) -> Credential:
        if self._credential is None:
            self._credential = check(self.header_value, self.scope)
        return self._credential


class ApiKey(HttpAuthBase):
    openapi_scheme = "bearer"
    openapi_type = "http"
    csrf = False

    def __init__(self, scope: str, *, deferred: bool = False):
        self.scope, self.deferred = scope, deferred
        super().__init__()

    def __call__(self, request):
        # META, not request.headers: that builds a dict of every header on first use.
        header_value = request.META.get("HTTP_AUTHORIZATION")
        if self.deferred:
            return KeyClaim(header_value, self.scope)
        return check(header_value, self.scope)
