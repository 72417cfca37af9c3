"""A transactional message's status history (transactional/events/, one row per real change:
queued, deferred, sent, bounced, opened, clicked, complained, …) through the API, paged, with
the read scope: by the single send's statusId, or by the message's id (the `messageId` of its
webhooks, which also names a message sent through the SMTP API, which has no statusId)."""

from ninja import Query, Router

from mailboxes.constants import SendSource
from mailboxes.models import Outbound
from transactional.api import status
from transactional.api.constants import READ_SCOPE
from transactional.api.errors import ApiError
from transactional.api.paging import page
from transactional.api.routes import operation
from transactional.api.schemas import PageIn, StatusEventPage
from transactional.events.models import StatusEvent

router = Router(tags=["Delivery events"])
BY_STATUS = "/v3/email/send-statuses/{statusId}/events"
BY_MESSAGE = "/v3/transactional/messages/{messageId}/events"


def _history(request, outbound: Outbound | None, paging: PageIn, **ids) -> dict:
    rows, next_page = [], None  # no outbound yet (pending, or refused): no history
    if outbound is not None:
        rows, next_page = page(request, StatusEvent.objects.filter(outbound=outbound), paging)
    return {
        "messageId": outbound.pk if outbound else None,
        "status": outbound.status if outbound else None,
        **ids,
        "results": [
            {"id": str(e.pk), "type": e.type, "occurredAt": e.occurred_at, "data": e.data}
            for e in rows
        ],
        "paging": next_page,
    }


@operation(
    router,
    "get",
    "/v3/email/send-statuses/{statusId}/events",
    READ_SCOPE,
    (200, StatusEventPage),
    "sendStatusEvents",
)
def send_status_events(request, statusId: str, paging: Query[PageIn]):  # noqa: N803
    """The status history of a single send's message, in the order it happened."""
    send = status.find(statusId)
    return _history(request, send.outbound, paging, statusId=str(send.status_id))


@operation(
    router,
    "get",
    "/v3/transactional/messages/{messageId}/events",
    READ_SCOPE,
    (200, StatusEventPage),
    "messageEvents",
)
def message_events(request, messageId: int, paging: Query[PageIn]):  # noqa: N803
    """The status history of a transactional message (single send or SMTP API)."""
    outbound = (
        Outbound.objects.filter(pk=messageId, source=SendSource.TRANSACTIONAL)
        .only("pk", "status")
        .first()
    )
    if outbound is None:
        raise ApiError(404, "OBJECT_NOT_FOUND", f"No transactional message has id {messageId}.")
    return _history(request, outbound, paging)
