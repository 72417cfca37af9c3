"""A SingleSend as HubSpot's EmailSendStatusView: PENDING until the worker took it; refused
then (bounced, the add-on off) it is COMPLETE with its sendResult; queued, it follows the
sending pool's row (queued, sending, deferred, sent, failed, cancelled)."""

from uuid import UUID

from mailboxes.constants import SendStatus as Row
from transactional.api.constants import SendResult, SendStatus
from transactional.api.errors import ApiError
from transactional.api.models import SingleSend

_PENDING = {Row.QUEUED, Row.SCHEDULED}
_PROCESSING = {Row.SENDING, Row.DEFERRED, Row.CHECKING, Row.UNCERTAIN}
_SENT = {Row.SENT, Row.RECONCILED}


def find(status_id: str) -> SingleSend:
    """The send a statusId names, with its outbound row; a 404 for anything else."""
    try:
        key = UUID(status_id)
    except ValueError:
        key = None
    found = (
        SingleSend.objects.select_related("outbound").filter(status_id=key).first() if key else None
    )
    if found is None:
        raise ApiError(404, "OBJECT_NOT_FOUND", f"No send has statusId {status_id}.")
    return found


def pending(status_id, requested_at) -> dict:
    """The view of a send no worker has taken yet."""
    return {
        "statusId": str(status_id),
        "requestedAt": requested_at,
        "startedAt": None,
        "completedAt": None,
        "sendResult": None,
        "message": None,
        "status": SendStatus.PENDING,
    }


def view(send: SingleSend) -> dict:
    out = pending(send.status_id, send.requested_at) | {"message": send.message or None}
    if send.processed_at is None:
        return out
    outbound = send.outbound
    if send.send_result or outbound is None:
        return out | {
            "status": SendStatus.COMPLETE,
            "sendResult": send.send_result or SendResult.UNDELIVERABLE,
            "startedAt": send.processed_at,
            "completedAt": send.processed_at,
        }
    started = outbound.attempted_at or outbound.claimed_at
    if outbound.status in _PENDING:
        return out | {"status": SendStatus.PENDING, "sendResult": SendResult.QUEUED}
    if outbound.status in _PROCESSING:
        return out | {
            "status": SendStatus.PROCESSING,
            "sendResult": SendResult.QUEUED,
            "startedAt": started,
            "message": outbound.last_error or None,
        }
    if outbound.status in _SENT:
        return out | {
            "status": SendStatus.COMPLETE,
            "sendResult": SendResult.SENT,
            "startedAt": started or outbound.sent_at,
            "completedAt": outbound.sent_at,
        }
    if outbound.status == Row.CANCELLED:
        return out | {"status": SendStatus.CANCELED, "sendResult": SendResult.CAMPAIGN_CANCELLED}
    return out | {  # failed: the relay refused it
        "status": SendStatus.COMPLETE,
        "sendResult": SendResult.UNDELIVERABLE,
        "startedAt": started,
        "completedAt": outbound.attempted_at,
        "message": outbound.last_error or None,
    }
