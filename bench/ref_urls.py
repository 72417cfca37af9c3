"""The project's URLs plus bare reference views answering exactly what the tracking views do.

The reference views sit right before the project's `t/` include, behind an include of their
own, with paths of the same shape (the token is ignored): URL resolution costs them what it
costs the tracking views. The responses have the same bytes and headers. One more view is a
floor, not a reference: `floor_single_send` adds to the bare single send the one INSERT that no
real one can skip (bench/single_send_api.py prints it as context).
"""

import json
import uuid

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpResponse, HttpResponseNotModified, HttpResponseRedirect, JsonResponse
from django.urls import include, path
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from crm_mail import urls as project
from mailboxes.tracking.views import NO_STORE, PIXEL

# Every benchmark link has a URL of this length (see bench/tracking.py).
REF_TARGET = "https://www.example.com/pricing?utm_source=crm&utm_medium=email&n=000000"


def ref_open(request, token):
    response = HttpResponse(PIXEL, content_type="image/gif")
    response["Cache-Control"] = NO_STORE
    return response


def ref_click(request, token):
    response = HttpResponseRedirect(REF_TARGET)
    response["Cache-Control"] = NO_STORE
    return response


@csrf_exempt
def ref_single_send(request):
    """What the single-send API answers (bench/single_send_api.py), from the parsed body and
    nothing else: no key, no query."""
    json.loads(request.body)
    return _pending(uuid.uuid4())


def _pending(status_id: uuid.UUID) -> JsonResponse:
    return JsonResponse(
        {
            "statusId": str(status_id),
            "status": "PENDING",
            "sendResult": "QUEUED",
            "requestedAt": timezone.now().isoformat(),
            "startedAt": None,
            "completedAt": None,
            "message": None,
        }
    )


# A bare table of bench/single_send_api.py's floor (made there).
FLOOR_TABLE = "bench_single_send_floor"


@csrf_exempt
def floor_single_send(request):
    """ref_single_send plus the one thing no single send can skip: its row written durably
    (one INSERT in autocommit into a bare table with the sendId unique), and nothing else:
    no key, no email, no checks, no job queued."""
    data = json.loads(request.body)
    status_id = uuid.uuid4()
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {FLOOR_TABLE} (status_id, send_id, to_address, request, requested_at) "
            "VALUES (%s, %s, %s, %s, %s)",
            [
                status_id,
                data["message"]["sendId"],
                data["message"]["to"],
                json.dumps(data),
                timezone.now(),
            ],
        )
    return _pending(status_id)


@login_required
def ref_conversation_poll(request, mailbox_id):
    """The conversations inbox's poll for an unchanged inbox (bench/conversation_poll.py):
    a signed-in user answered 304, nothing else read."""
    response = HttpResponseNotModified()
    response["ETag"] = request.headers.get("If-None-Match", "")
    response["Cache-Control"] = "private, no-store"
    return response


_ref = [
    path("conversations/<int:mailbox_id>/list/", ref_conversation_poll),
    path("marketing/v3/transactional/single-email/send", ref_single_send),
    path("floor/marketing/v3/transactional/single-email/send", floor_single_send),
    path("o/<str:token>.gif", ref_open),
    path("c/<str:token>", ref_click),
]
urlpatterns = list(project.urlpatterns)
urlpatterns.insert(
    next(i for i, p in enumerate(urlpatterns) if str(p.pattern) == "t/"),
    path("ref/", include((_ref, "ref"))),
)
