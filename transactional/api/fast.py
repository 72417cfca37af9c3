"""The single send's common request without django-ninja's machinery in front of it.

ninja's operation (its parameter models, authentication hooks and response rendering) costs
about as much CPU as the one statement the common request needs (bench/single_send_api.py).
This view takes the request first: a JSON body that validates as `SendIn`, with a key this
process has checked before, is written by `send.written_at_once` and answered with the same
bytes ninja renders. Anything else (another method or content type, a body that does not
validate, an unknown or unchecked key, a repeated sendId, any refusal) goes to ninja's
operation unchanged, which documents the endpoint (OpenAPI) and answers every error."""

from django.views.decorators.csrf import csrf_exempt
from pydantic import ValidationError

from transactional.api.auth import ApiKey
from transactional.api.constants import SEND_PATH, SEND_SCOPE
from transactional.api.schemas import SendIn
from transactional.api.send import written_at_once
from transactional.api.views import api

# The send operation's own authentication (views.py): the key read, its check deferred.
_key = ApiKey(SEND_SCOPE, deferred=True)


def view(ninja_patterns):
    """The view of the single send's path, in front of ninja's among `ninja_patterns` (those
    `api.urls` made: ninja binds the operations it routes to when it makes them)."""
    route = SEND_PATH.lstrip("/")
    operation = next(p.callback for p in ninja_patterns if str(p.pattern) == route)

    @csrf_exempt
    def single_send(request):
        return _answered(request) or operation(request)

    return single_send


def _answered(request):
    """The common request's answer, or None."""
    if request.method != "POST" or request.content_type != "application/json":
        return None
    try:
        data = SendIn.model_validate_json(request.body)
    except ValidationError:
        return None
    answer = written_at_once(_key(request), data)
    return None if answer is None else api.create_response(request, answer, status=200)
