"""Celery task of tracking: write the hits the web processes buffered in Redis."""

from celery import shared_task

from mailboxes import jobs
from mailboxes.tracking import events, revocation


@shared_task(name=jobs.TRACKING_FLUSH)
def tracking_flush() -> int:
    # The Redis set of deleted emails is checked on the same beat (see revocation.verify).
    revocation.verify()
    return events.flush_events()
