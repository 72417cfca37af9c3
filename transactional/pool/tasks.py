"""Celery tasks of the sending pool, on the "transactional" queue: thin wrappers of
delivery.py."""

from celery import shared_task

from mailboxes import jobs
from transactional.pool import delivery


@shared_task(name=jobs.SEND_TRANSACTIONAL, acks_late=True)
def send_transactional(*outbound_ids: int) -> str | None:
    # The emails one enqueue queued together (up to SEND_JOB_SIZE). Idempotent: the rows are
    # claimed with SKIP LOCKED, so a redelivered task finds them taken or done.
    return delivery.deliver(*outbound_ids)


@shared_task(name=jobs.SEND_TRANSACTIONAL_DUE)
def send_transactional_due() -> int:
    return sum(delivery.deliver_due().values())
