"""How the API's routers declare an operation: a Bearer key with a scope, the answer's model,
HubSpot's error shape for every refusal, and None fields left out (a password where there is
none to show, paging on the last page)."""

from ninja import Router

from transactional.api.auth import ApiKey
from transactional.api.schemas import Error

# The refusals every operation may answer, in HubSpot's error shape.
ERRORS = {400: Error, 401: Error, 403: Error, 404: Error}


def operation(router: Router, method: str, path: str, scope: str, answer: tuple, operation_id: str):
    """The decorator of one operation on `router`: `answer` is (status, model); the view's
    docstring is its summary in the document."""

    def declare(view):
        return router.api_operation(
            [method.upper()],
            path,
            auth=ApiKey(scope),
            response={answer[0]: answer[1], **ERRORS},
            exclude_none=True,
            operation_id=operation_id,
            summary=(view.__doc__ or "").strip(),
        )(view)

    return declare
