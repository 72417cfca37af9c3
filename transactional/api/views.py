"""The single-send HTTP API, HubSpot's paths and shapes, on django-ninja: the OpenAPI document
(`/marketing/openapi.json`) and its browsable page (`/marketing/docs`, Swagger UI vendored in
static/vendor/swagger-ui/, under the pages' CSP) are generated from this code."""

from django.shortcuts import render
from ninja import NinjaAPI
from ninja.errors import HttpError, ValidationError
from ninja.openapi.docs import Swagger
from ninja.responses import Response

from transactional.api import aliases, events, smtp_tokens, status
from transactional.api.auth import ApiKey, KeyClaim
from transactional.api.constants import READ_SCOPE, SEND_PATH, SEND_SCOPE
from transactional.api.errors import ApiError, response
from transactional.api.schemas import Error, SendIn, StatusOut
from transactional.api.send import single_send


class VendoredSwagger(Swagger):
    """Swagger UI from the app's own static files (no CDN), started by static/js/api-docs.js."""

    def render_page(self, request, api, **kwargs):
        # Always this template: ninja would fall back on its CDN one (ninja not being an app).
        self.settings["url"] = self.get_openapi_url(api, kwargs)
        context = {"swagger_settings": self.settings, "api": api}
        return render(request, "transactional/api/docs.html", context)


api = NinjaAPI(
    title="Transactional email API",
    version="3",
    description=(
        "HubSpot-compatible single-send API. Authenticate with an API key made under "
        "Settings › Integrations › API keys: `Authorization: Bearer crm_pat_…`."
    ),
    urls_namespace="transactional-api",
    docs=VendoredSwagger(),
    docs_url="/docs",
    openapi_url="/openapi.json",
)

ERRORS = {400: Error, 401: Error, 403: Error, 404: Error}


@api.exception_handler(ApiError)
def _api_error(request, error: ApiError):
    return response(error)


def _key_refused(request) -> ApiError | None:
    """A deferred key (the send endpoint's) checked before another refusal is answered: a bad
    key is a 401 whatever the body."""
    claim = getattr(request, "auth", None)
    if isinstance(claim, KeyClaim):
        try:
            claim.check()
        except ApiError as refused:
            return refused
    return None


@api.exception_handler(ValidationError)
def _invalid(request, error: ValidationError):
    refused = _key_refused(request)
    if refused:
        return response(refused)
    first = error.errors[0] if error.errors else {}
    # ninja's location starts with where and which parameter ("body", "data"): drop both.
    loc = list(first.get("loc", ()))
    where = ".".join(str(p) for p in (loc[2:] if loc[:2] == ["body", "data"] else loc[1:]))
    words = first.get("msg", "Invalid input")
    return response(
        ApiError(
            400,
            "VALIDATION_ERROR",
            f"Invalid input{f' at {where}' if where else ''}: {words}",
            sub_category="MISSING_REQUIRED_PARAMETER"
            if first.get("type") == "missing"
            else "VALIDATION_FAILED",
            field=where or None,
        )
    )


@api.exception_handler(HttpError)
def _http_error(request, error: HttpError):
    refused = _key_refused(request)
    if refused:
        return response(refused)
    # ninja's own refusals, among them a body that is not JSON ("Cannot parse request body").
    category = "VALIDATION_ERROR" if error.status_code == 400 else "ERROR"
    return response(
        ApiError(
            error.status_code,
            category,
            str(error) or "Bad request",
            sub_category=("CORRUPT_INPUT" if error.status_code == 400 else None),
        )
    )


@api.post(
    SEND_PATH,
    auth=ApiKey(SEND_SCOPE, deferred=True),
    response={200: StatusOut, **ERRORS},
    operation_id="singleEmailSend",
    summary="Send a published transactional email to one recipient",
    tags=["Single send"],
)
def send(request, data: SendIn):
    # The answer is StatusOut's shape already (status.py; the tests hold it to the document):
    # rendered as ninja would, without validating it against StatusOut again.
    return Response(single_send(request.auth, data))


@api.get(
    "/v3/email/send-statuses/{statusId}",
    auth=ApiKey(READ_SCOPE),
    response={200: StatusOut, **ERRORS},
    operation_id="sendStatusGet",
    summary="The status of a single send",
    tags=["Single send"],
)
def send_status(request, statusId: str):  # noqa: N803 - HubSpot's name, shown in the docs
    return status.view(status.find(statusId))


# The SMTP API tokens and the status history (their own modules), and HubSpot's other paths
# of the single send (aliases.py): the same view function under each.
api.add_router("", smtp_tokens.router)
api.add_router("", events.router)
aliases.alias(api.default_router, SEND_PATH, *aliases.SEND_ALIASES)
