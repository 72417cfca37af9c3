"""A single-send request made into its email, by the worker (tasks.py), in one transaction
with the row locked: the contact found by the address or created, with contactProperties
written (contacts.py); refused as EMAIL_DISABLED (the add-on off) or PREVIOUSLY_BOUNCED; else
rendered and queued for the sending pool through the one enqueue service. Done once: a
second job, or the pass over lost jobs, finds the row processed or locked."""

import logging
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from mailboxes.outbox.enqueue import SendRefused, email_enqueue
from transactional.api.constants import SendResult
from transactional.api.contacts import contact_for
from transactional.api.models import SingleSend
from transactional.emails import render, sending
from transactional.pool import transport
from transactional.pool.models import SendingPool

log = logging.getLogger(__name__)
# A request still pending this long after it came lost its job: the pass takes it.
LOST_AFTER = timedelta(seconds=30)


def process(pk: int) -> str | None:
    """Make request `pk` into its email; its sendResult, or None when it was done already."""
    with transaction.atomic():
        row = (
            # Its own row only (and FOR NO KEY UPDATE): another request's INSERT holds a KEY
            # SHARE lock on the email's row until it commits, which FOR UPDATE of the join
            # would skip, leaving the send to the pass over lost requests.
            SingleSend.objects.select_for_update(skip_locked=True, of=("self",), no_key=True)
            .select_related("email")
            .filter(pk=pk, processed_at__isnull=True)
            .first()
        )
        if row is None:
            return None
        result = _queue(row, SendingPool.load())
        row.processed_at, row.request = timezone.now(), {}
        row.save(
            update_fields=[
                "contact",
                "outbound",
                "send_result",
                "message",
                "processed_at",
                "request",
            ]
        )
    return result


def process_due(limit: int = 200) -> int:
    """The pending requests whose job was lost (the broker was down): each processed."""
    since = timezone.now() - LOST_AFTER
    pending = SingleSend.objects.filter(processed_at__isnull=True, requested_at__lt=since)
    done = 0
    for pk in pending.order_by("requested_at").values_list("pk", flat=True)[:limit]:
        done += process(pk) is not None
    return done


def _queue(row: SingleSend, pool: SendingPool) -> str:
    why = transport.unavailable(pool)
    if why:
        return _refused(row, SendResult.EMAIL_DISABLED, why)
    asked = row.request
    row.contact = contact_for(row.to_address, asked.get("contact", {}))
    if transport.bounced([row.to_address]):
        return _refused(
            row, SendResult.PREVIOUSLY_BOUNCED, f"{row.to_address} bounced hard before."
        )
    email = row.email
    rendered = render.render(
        email.subject, email.body, row.contact, asked.get("custom", {}), blank_contact=True
    )
    outgoing = sending.outgoing(
        email,
        rendered,
        pool,
        to=row.to_address,
        contact=row.contact,
        source_id=row.credential_id,
        from_name=asked.get("fromName", ""),
        from_address=asked.get("fromAddress", ""),
        reply_to=asked.get("replyTo"),
        cc=asked.get("cc"),
        bcc=asked.get("bcc"),
    )
    try:
        queued = email_enqueue(outgoing)
    except SendRefused as refused:
        # A Cc or Bcc bounced hard: the transport's words say which.
        return _refused(row, SendResult.PREVIOUSLY_BOUNCED, " ".join(refused.refusals))
    row.outbound = queued.outbound
    return SendResult.QUEUED


def _refused(row: SingleSend, result: str, words: str) -> str:
    row.send_result, row.message = result, words
    return result
