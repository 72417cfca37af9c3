"""Celery tasks of the engine: thin wrappers around tick.py."""

from celery import shared_task

from mailboxes import jobs

from . import tick


@shared_task(name=jobs.SEQUENCE_TICK)
def sequence_tick() -> int:
    # Two at once are safe: each enrollment's step runs under its row lock, once.
    return sum(tick.tick().values())
