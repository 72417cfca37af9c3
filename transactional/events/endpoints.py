"""What an admin does to webhook endpoints: create one, rotate its secret, send it a test
event, redeliver an event. A new secret is returned to the caller to show once."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from mailboxes import jobs
from transactional.events.constants import TEST_TYPE
from transactional.events.models import WebhookDelivery, WebhookEndpoint
from transactional.events.recording import body_of
from transactional.events.signing import new_secret, new_webhook_id


def endpoint_create(form, user) -> tuple[WebhookEndpoint, str]:
    """Save the form's endpoint with a new secret; return it and the secret."""
    endpoint = form.save(commit=False)
    secret = new_secret()
    endpoint.secret = {"secret": secret}
    endpoint.created_by = user
    endpoint.save()
    return endpoint, secret


def secret_rotate(endpoint: WebhookEndpoint) -> str:
    """A new secret at once: deliveries signed from now on use it, the old one stops."""
    secret = new_secret()
    endpoint.secret = {"secret": secret}
    endpoint.save(update_fields=["secret"])
    return secret


@transaction.atomic
def send_test(endpoint: WebhookEndpoint) -> WebhookDelivery:
    """Queue a `webhook.test` event to `endpoint` (enabled or not), logged like any other."""
    now = timezone.now()
    data = {"message": "A test event from the CRM's transactional email webhooks."}
    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint,
        webhook_id=new_webhook_id(),
        type=TEST_TYPE,
        body=body_of(TEST_TYPE, now, data),
        next_attempt_at=now,
    )
    jobs.later(jobs.DELIVER_WEBHOOK, delivery.pk)
    return delivery
