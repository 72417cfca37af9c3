"""Celery task of the conversations inbox, every minute: snoozes that are over woken, and
conversations waiting for a free teammate given out (working hours that began), and those
left unanswered past the inbox's limit given to someone else."""

from celery import shared_task

from mailboxes import jobs
from mailboxes.conversations import routing, services


@shared_task(name=jobs.CONVERSATIONS_WAKE)
def conversations_wake() -> int:
    woken = services.wake_due()
    return woken + routing.assign_waiting() + routing.reassign_unanswered()
