"""One request to the single-send API: its statusId, its idempotency key (sendId), what it
asks for until a worker makes it into an email (process.py), then what it sent and how that
went (the outbox's row, read when the status is polled)."""

import uuid

from django.db import models
from django.db.models import Q
from django.utils import timezone

from transactional.api.constants import SendResult


class SingleSend(models.Model):
    status_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # HubSpot's sendId: at most one email per value (`single_send_send_id_unique`); empty when
    # the caller gave none.
    send_id = models.CharField(max_length=255, blank=True)
    email = models.ForeignKey(
        "transactional.TransactionalEmail", on_delete=models.PROTECT, related_name="sends"
    )
    # No index: nothing looks sends up by key, and keys are never deleted (credentials/).
    credential = models.ForeignKey(
        "transactional.Credential",
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    to_address = models.CharField(max_length=320)
    # The worker sets these two; their indexes (Meta) leave out the rows that have none, so
    # the request's INSERT, the API's hot path, writes no entry for them.
    contact = models.ForeignKey(
        "records.Contact",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    # None: refused before anything was queued (sendResult says why). One send per outbound
    # row (`single_send_outbound_unique`).
    outbound = models.ForeignKey(
        "mailboxes.Outbound",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    # Set when refused at request time; otherwise derived from the outbound row (status.py).
    send_result = models.CharField(max_length=40, choices=SendResult.choices, blank=True)
    message = models.TextField(blank=True)
    requested_at = models.DateTimeField(default=timezone.now)
    # What the worker needs (recipients, From, contactProperties, customProperties), wiped
    # once processed: customProperties are not kept, as HubSpot keeps none.
    request = models.JSONField(default=dict, blank=True)
    # When the worker made it into an email or refused it; None: PENDING.
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["requested_at"],
                condition=Q(processed_at__isnull=True),
                name="single_send_pending",
            ),
            models.Index(
                fields=["contact"], condition=Q(contact__isnull=False), name="single_send_contact"
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["send_id"], condition=~Q(send_id=""), name="single_send_send_id_unique"
            ),
            models.UniqueConstraint(
                fields=["outbound"],
                condition=Q(outbound__isnull=False),
                name="single_send_outbound_unique",
            ),
        ]

    def __str__(self):
        return str(self.status_id)
