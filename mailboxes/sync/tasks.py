"""Celery tasks of sync: thin wrappers that take ids and call engine.py or bodies.py."""

from celery import shared_task
from django.core.cache import cache

from mailboxes import jobs
from mailboxes.sync import bodies, engine

LOCK_SECONDS = 15 * 60


def _locked(key: str):
    # One sync per inbox at a time across every worker (the cache is Redis in production).
    return cache.add(key, "1", LOCK_SECONDS)


@shared_task(name=jobs.SYNC_MAILBOX, acks_late=True)
def sync_mailbox(mailbox_id: int) -> int:
    key = f"mailbox-sync-{mailbox_id}"
    if not _locked(key):
        return 0
    try:
        return engine.sync_mailbox(mailbox_id)
    finally:
        cache.delete(key)


@shared_task(name=jobs.SYNC_ALL)
def sync_all() -> int:
    ids = list(engine.mailboxes_to_sync().values_list("pk", flat=True))
    for mailbox_id in ids:
        sync_mailbox.delay(mailbox_id)
    return len(ids)


@shared_task(name=jobs.RECONCILE_ALL)
def reconcile_all() -> int:
    found = 0
    for mailbox_id in engine.mailboxes_to_sync().values_list("pk", flat=True):
        key = f"mailbox-sync-{mailbox_id}"
        if _locked(key):
            try:
                found += engine.reconcile_mailbox(mailbox_id)
            finally:
                cache.delete(key)
    return found


@shared_task(name=jobs.FILL_BODIES)
def fill_bodies() -> int:
    total = 0
    while (done := bodies.fill_pending()) and total < 5000:
        total += done
    return total
