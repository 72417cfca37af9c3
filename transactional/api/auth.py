"""Bearer API keys (transactional/credentials/auth.py) for django-ninja: a key is checked on
each request, its scopes against the endpoint's. Token authentication, never the session
cookie, so no CSRF token is asked for."""

from ninja.security.http import HttpAuthBase

from transactional.api.errors import ApiError
from transactional.credentials.auth import authenticate_api_key, missing_scopes


class ApiKey(HttpAuthBase):
    openapi_scheme = "bearer"
    openapi_type = "http"
    csrf = False

    def __init__(self, scope: str):
        self.scope = scope
        super().__init__()

    def __call__(self, request):
        credential = authenticate_api_key(request.headers.get("Authorization"))
        if credential is None:
            raise ApiError(
                401,
                "INVALID_AUTHENTICATION",
                "Authentication credentials not found or not valid: send "
                "'Authorization: Bearer <API key>' with a live key.",
            )
        missing = missing_scopes(credential, self.scope)
        if missing:
            raise ApiError(
                403,
                "MISSING_SCOPES",
                "This API key lacks the scopes this call needs.",
                context={"missingScopes": missing},
            )
        return credential
