"""Celery tasks of webhooks, on the "transactional" queue: thin wrappers of webhooks.py."""

from celery import shared_task

from mailboxes import jobs
from transactional.events import webhooks


@shared_task(name=jobs.DELIVER_WEBHOOK, acks_late=True)
def deliver_webhook(delivery_id: int) -> bool | None:
    # Claimed with a conditional UPDATE: a redelivered task finds it taken or done.
    return webhooks.deliver(delivery_id)


@shared_task(name=jobs.DELIVER_WEBHOOKS_DUE)
def deliver_webhooks_due() -> int:
    return sum(webhooks.deliver_due().values())
