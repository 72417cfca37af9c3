"""The project's URLs plus bare reference views answering exactly what the tracking views do.

The reference views sit right before the project's `t/` include, behind an include of their
own, with paths of the same shape (the token is ignored): URL resolution costs them what it
costs the tracking views. The responses have the same bytes and headers.
"""

import json
import uuid

from django.contrib.auth.decorators import login_required
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
    return JsonResponse(
        {
            "statusId": str(uuid.uuid4()),
            "status": "PENDING",
            "sendResult": "QUEUED",
            "requestedAt": timezone.now().isoformat(),
            "startedAt": None,
            "completedAt": None,
            "message": None,
        }
    )


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
    path("o/<str:token>.gif", ref_open),
    path("c/<str:token>", ref_click),
]
urlpatterns = list(project.urlpatterns)
urlpatterns.insert(
    next(i for i, p in enumerate(urlpatterns) if str(p.pattern) == "t/"),
    path("ref/", include((_ref, "ref"))),
)
