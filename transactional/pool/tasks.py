"""Celery tasks of the sending pool, on the "transactional" queue: thin wrappers of
delivery.py."""

from celery import shared_task

from mailboxes import jobs
from transactional.pool import delivery


@shared_task(name=jobs.SEND_TRANSACTIONAL, acks_late=True)
def send_transactional(outbound_id: int) -> str | None:
    # Idempotent: the row is claimed with SKIP LOCKED, so a redelivered task finds it taken
    # or done and returns None.
    return delivery.deliver(outbound_id)


@shared_task(name=jobs.SEND_TRANSACTIONAL_DUE)
def send_transactional_due() -> int:
    return sum(delivery.deliver_due().values())
