"""Celery tasks of the single-send API, on the "transactional" queue: thin wrappers of
process.py."""

from celery import shared_task

from mailboxes import jobs
from transactional.api import process


@shared_task(name=jobs.SINGLE_SEND, acks_late=True)
def single_send(pk: int) -> str | None:
    # Idempotent: a processed or locked row is left alone.
    return process.process(pk)


@shared_task(name=jobs.SINGLE_SEND_DUE)
def single_send_due() -> int:
    return process.process_due()
