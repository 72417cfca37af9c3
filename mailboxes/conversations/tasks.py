"""Celery task of the conversations inbox: snoozes that are over, woken every minute."""

from celery import shared_task

from mailboxes import jobs
from mailboxes.conversations import services


@shared_task(name=jobs.CONVERSATIONS_WAKE)
def conversations_wake() -> int:
    return services.wake_due()
