"""A transactional message's status history, and the webhooks that receive it."""

from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from mailboxes.fields import EncryptedJSONField
from mailboxes.models import Outbound
from transactional.events.constants import DeliveryStatus, EventType


class StatusEvent(models.Model):
    """One state change of a transactional message (its `Outbound` row).

    `key` is unique: the same change heard twice (a retried send, a signal replayed) is one
    row, so one webhook each."""

    outbound = models.ForeignKey(
        Outbound, on_delete=models.CASCADE, related_name="transactional_events"
    )
    type = models.CharField(max_length=32, choices=EventType.choices)
    occurred_at = models.DateTimeField(default=timezone.now)
    # What the change says: a reason, the next try, the address, a link, human or machine.
    data = models.JSONField(default=dict, blank=True)
    key = models.CharField(max_length=200, unique=True)

    class Meta:
        ordering = ["occurred_at", "pk"]
        indexes = [models.Index(fields=["outbound", "occurred_at"], name="tx_event_outbound")]

    def __str__(self) -> str:
        return f"{self.type} of message {self.outbound_id}"


def complained() -> Q:
    """An `Outbound` row some recipient reported as spam (an ARF "abuse" report; a feedback
    loop's "opt-out" is an unsubscribe, not a complaint)."""
    return Q(
        Exists(
            StatusEvent.objects.filter(
                outbound=OuterRef("pk"),
                type=EventType.COMPLAINED,
                data__feedbackType="abuse",
            )
        )
    )


class WebhookEndpoint(models.Model):
    """An admin's HTTPS endpoint, the event types it wants, and its signing secret."""

    url = models.URLField(_("Endpoint URL"), max_length=2000)
    description = models.CharField(_("Description"), max_length=200, blank=True)
    event_types = models.JSONField(_("Events"), default=list)
    enabled = models.BooleanField(_("Enabled"), default=True)
    # {"secret": "whsec_…"}: encrypted at rest, shown once when made or rotated.
    secret = EncryptedJSONField(default=dict)
    created_by = models.ForeignKey(
        "records.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return self.url

    def wants(self, event_type: str) -> bool:
        return self.enabled and event_type in self.event_types


class WebhookDelivery(models.Model):
    """One event for one endpoint: the body signed and sent until the endpoint takes it.

    `webhook_id` and `body` never change, so every attempt and a redelivery carry the same
    id (the receiver de-duplicates on it) and the same bytes."""

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    event = models.ForeignKey(
        StatusEvent, null=True, blank=True, on_delete=models.CASCADE, related_name="deliveries"
    )  # None: a test event
    webhook_id = models.CharField(max_length=40, unique=True)
    type = models.CharField(max_length=32)
    body = models.TextField()
    status = models.CharField(
        max_length=12, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "event"], name="tx_webhook_once")
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="tx_webhook_due")]

    def __str__(self) -> str:
        return self.webhook_id


class WebhookAttempt(models.Model):
    """One POST of a delivery: the delivery log's line."""

    delivery = models.ForeignKey(
        WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log"
    )
    at = models.DateTimeField(default=timezone.now)
    status_code = models.PositiveIntegerField(null=True, blank=True)
    response = models.TextField(blank=True)  # the first characters of the answer
    error = models.CharField(max_length=500, blank=True)  # no answer: why
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-at", "-pk"]

    def __str__(self) -> str:
        return f"{self.delivery_id} at {self.at}: {self.status_code or self.error}"

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300
