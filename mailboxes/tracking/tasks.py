"""Celery task of tracking: write the hits the web processes buffered in Redis."""

from celery import shared_task

from mailboxes import jobs
from mailboxes.tracking import events


@shared_task(name=jobs.TRACKING_FLUSH)
def tracking_flush() -> int:
    return events.flush_events()
