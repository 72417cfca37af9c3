"""Record a state change of a transactional message, once, and queue its webhooks.

Every change goes through `record`: the row's unique `key` makes a change heard twice one row,
and each endpoint that wants its type gets one `WebhookDelivery`, sent by the worker
(webhooks.py) once the change commits.
"""

from __future__ import annotations

import json
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from mailboxes import jobs
from mailboxes.models import Outbound
from transactional.events.models import StatusEvent, WebhookDelivery, WebhookEndpoint
from transactional.events.signing import new_webhook_id


def _key(outbound_id: int, type: str, key: str = "") -> str:
    """What makes a change one: the message, the type, and what tells apart changes of one
    type that each count."""
    return f"{outbound_id}:{type}:{key}"[:200]


def record(
    outbound_id: int,
    type: str,
    *,
    key: str = "",
    at: datetime | None = None,
    data: dict | None = None,
) -> StatusEvent | None:
    """Record that message `outbound_id` changed to `type`; None if that change is known.

    `key` tells apart changes of one type that each count (two opens); by default a type
    happens once per message."""
    event = StatusEvent(
        outbound_id=outbound_id,
        type=type,
        occurred_at=at or timezone.now(),
        data=data or {},
        key=_key(outbound_id, type, key),
    )
    try:
        with transaction.atomic():
            event.save()
            fan_out(event)
    except IntegrityError:
        return None  # heard before
    return event


def record_many(
    outbound_ids: list[int], type: str, *, at: datetime | None = None
) -> list[StatusEvent]:
    """`record` for many messages' same change (a batch the SMTP API queued): one INSERT and
    one transaction for them all; the changes already known are left out. Should another
    writer record one of them meanwhile, each is recorded on its own instead."""
    at = at or timezone.now()
    events = {
        _key(pk, type): StatusEvent(
            outbound_id=pk, type=type, occurred_at=at, data={}, key=_key(pk, type)
        )
        for pk in outbound_ids
    }
    try:
        with transaction.atomic():
            known = set(StatusEvent.objects.filter(key__in=events).values_list("key", flat=True))
            new = StatusEvent.objects.bulk_create([e for k, e in events.items() if k not in known])
            _fan_out_many(new)
        return new
    except IntegrityError:
        return [e for e in (record(e.outbound_id, type, at=at) for e in events.values()) if e]


def fan_out(event: StatusEvent) -> list[WebhookDelivery]:
    """One delivery per enabled endpoint subscribed to the event's type, queued on commit."""
    return _fan_out_many([event])


def _fan_out_many(events: list[StatusEvent]) -> list[WebhookDelivery]:
    if not events:
        return []
    types = {e.type for e in events}
    endpoints = [
        e for e in WebhookEndpoint.objects.filter(enabled=True) if any(map(e.wants, types))
    ]
    if not endpoints:
        return []
    messages = _messages([e.outbound_id for e in events])
    deliveries = WebhookDelivery.objects.bulk_create(
        WebhookDelivery(
            endpoint=endpoint,
            event=event,
            webhook_id=new_webhook_id(),
            type=event.type,
            body=body_of(event.type, event.occurred_at, _payload(event, messages)),
            next_attempt_at=timezone.now(),
        )
        for event in events
        for endpoint in endpoints
        if endpoint.wants(event.type)
    )
    jobs.later_many(jobs.DELIVER_WEBHOOK, [(d.pk,) for d in deliveries])
    return deliveries


def _messages(outbound_ids: list[int]) -> dict[int, dict]:
    return {
        row["pk"]: row
        for row in Outbound.objects.filter(pk__in=outbound_ids).values(
            "pk", "recipients", "source_id", "message__message_id", "message__subject"
        )
    }


def payload(event: StatusEvent) -> dict:
    """The `data` of an event's webhook: the message and what the change says."""
    return _payload(event, _messages([event.outbound_id]))


def _payload(event: StatusEvent, messages: dict[int, dict]) -> dict:
    outbound = messages.get(event.outbound_id, {})
    return {
        "messageId": event.outbound_id,
        "emailMessageId": outbound.get("message__message_id", ""),
        "subject": outbound.get("message__subject", ""),
        "recipients": outbound.get("recipients", []),
        "credentialId": outbound.get("source_id"),
        **event.data,
    }


def body_of(type: str, at: datetime, data: dict) -> str:
    """The JSON body Standard Webhooks describes: type, timestamp, data."""
    return json.dumps(
        {"type": type, "timestamp": at.isoformat().replace("+00:00", "Z"), "data": data},
        separators=(",", ":"),
        sort_keys=True,
    )


def history(outbound_id: int) -> list[dict]:
    """A message's changes, oldest first, as the API shows them."""
    return [
        {
            "type": e.type,
            "occurredAt": e.occurred_at.isoformat().replace("+00:00", "Z"),
            "data": e.data,
        }
        for e in StatusEvent.objects.filter(outbound_id=outbound_id)
    ]
