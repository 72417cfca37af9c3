"""What feeds the status history: mailboxes' signals about transactional email (filtered on
`source`; a success DSN's `delivery_reported` among them) and the sending pool's own
(transactional/pool/signals.py). Each receiver turns an event into one `recording.record`
call (a batch queued: one `record_many`); the record's key makes a repeat count once."""

from __future__ import annotations

from mailboxes import signals
from mailboxes.constants import SendSource
from mailboxes.models import Outbound, TrackedLink, TrackingReason
from transactional.events import recording
from transactional.events.constants import EventType
from transactional.pool import signals as pool_signals

_OUTCOMES = {
    "sent": EventType.SENT,
    "failed": EventType.FAILED,
    "uncertain": EventType.UNCERTAIN,
}


def _ours(event) -> bool:
    return event.source == SendSource.TRANSACTIONAL


def on_queued(sender, event: pool_signals.Queued, **_):
    recording.record_many(list(event.outbound_ids), EventType.QUEUED, at=event.at)


def on_deferred(sender, event: pool_signals.PoolChange, **_):
    # Deferred once, with its first reason: a message deferred again after a retry has not
    # changed state (the queue page shows each try).
    next_try = event.next_attempt_at.isoformat() if event.next_attempt_at else None
    data = {"reason": event.reason, "nextAttemptAt": next_try}
    recording.record(event.outbound_id, EventType.DEFERRED, at=event.at, data=data)


def on_cancelled(sender, event: pool_signals.PoolChange, **_):
    recording.record(
        event.outbound_id, EventType.CANCELLED, at=event.at, data={"reason": event.reason}
    )


def on_outcome(sender, event: signals.SendOutcome, **_):
    if _ours(event):
        data = {"reason": event.detail} if event.detail else {}
        recording.record(event.outbound_id, _OUTCOMES[event.status], data=data)


def on_bounce(sender, event: signals.BounceRecorded, **_):
    if not _ours(event) or event.outbound_id is None:
        return
    kind = "hard" if event.hard else "soft"
    recording.record(
        event.outbound_id,
        EventType.BOUNCED,
        key=f"{event.address}:{kind}",
        data={"address": event.address, "bounceType": kind, "reason": event.reason},
    )


def on_delivered(sender, event: signals.DeliveryReported, **_):
    # Once per recipient: the same report read again (a re-sync) is the same key.
    if _ours(event):
        data = {"address": event.address, "reportingMta": event.reporting_mta}
        recording.record(event.outbound_id, EventType.DELIVERED, key=event.address, data=data)


def on_tracking(sender, event: signals.TrackingRecorded, **_):
    if not _ours(event):
        return
    outbound_id = (
        Outbound.objects.filter(message_id=event.message_id).values_list("pk", flat=True).first()
    )
    if outbound_id is None:
        return
    # Machines' hits are recorded too, flagged: a receiver decides what counts.
    data = {"human": event.reason == TrackingReason.HUMAN, "reason": event.reason}
    if event.link_id is not None:
        data["url"] = (
            TrackedLink.objects.filter(pk=event.link_id).values_list("url", flat=True).first()
        )
    kind = EventType.OPENED if event.kind == "open" else EventType.CLICKED
    key = f"{event.at.isoformat()}:{event.link_id or ''}:{event.reason}"
    recording.record(outbound_id, kind, key=key, at=event.at, data=data)


def on_complaint(sender, event: signals.ComplaintReceived, **_):
    if not _ours(event) or event.outbound_id is None:
        return
    data = {
        "feedbackType": event.feedback_type,
        "addresses": list(event.addresses),
        "unsubscribedContactIds": list(event.contact_ids),
    }
    recording.record(event.outbound_id, EventType.COMPLAINED, data=data)


def connect() -> None:
    pool_signals.email_queued.connect(on_queued, dispatch_uid="tx-events-queued")
    pool_signals.email_deferred.connect(on_deferred, dispatch_uid="tx-events-deferred")
    pool_signals.email_cancelled.connect(on_cancelled, dispatch_uid="tx-events-cancelled")
    for signal in (signals.email_sent, signals.email_failed, signals.email_uncertain):
        signal.connect(on_outcome, dispatch_uid=f"tx-events-outcome-{id(signal)}")
    signals.bounce_recorded.connect(on_bounce, dispatch_uid="tx-events-bounce")
    signals.delivery_reported.connect(on_delivered, dispatch_uid="tx-events-delivered")
    signals.email_opened.connect(on_tracking, dispatch_uid="tx-events-opened")
    signals.email_clicked.connect(on_tracking, dispatch_uid="tx-events-clicked")
    signals.complaint_received.connect(on_complaint, dispatch_uid="tx-events-complaint")
