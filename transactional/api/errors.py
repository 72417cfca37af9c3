"""HubSpot's error body (shared/reference/hubspot-api.md, section 6): every refusal of the
API answers one, with a fresh correlationId that the server's log line repeats."""

import logging
import uuid

from django.http import JsonResponse

log = logging.getLogger(__name__)


class ApiError(Exception):
    def __init__(
        self,
        http_status: int,
        category: str,
        message: str,
        *,
        sub_category: str | None = None,
        field: str | None = None,
        context: dict | None = None,
    ):
        super().__init__(message)
        self.http_status, self.category, self.message = http_status, category, message
        self.sub_category, self.field, self.context = sub_category, field, context


def invalid(message: str, sub_category: str, field: str | None = None) -> ApiError:
    return ApiError(400, "VALIDATION_ERROR", message, sub_category=sub_category, field=field)


def body(error: ApiError) -> dict:
    correlation = str(uuid.uuid4())
    log.info("API %s %s (%s): %s", error.http_status, error.category, correlation, error.message)
    out = {
        "status": "error",
        "message": error.message,
        "correlationId": correlation,
        "category": error.category,
    }
    if error.sub_category:
        out["subCategory"] = error.sub_category
    if error.field:
        out["errors"] = [
            {"message": error.message, "in": error.field, "code": error.sub_category or "INVALID"}
        ]
    if error.context:
        out["context"] = error.context
    return out


def response(error: ApiError) -> JsonResponse:
    return JsonResponse(body(error), status=error.http_status)
