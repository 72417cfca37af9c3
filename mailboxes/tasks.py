"""Celery tasks: thin wrappers over sync, reconciliation and body parsing."""

from celery import shared_task
from django.core.cache import cache

from . import bodies, sync

LOCK_SECONDS = 15 * 60


def _locked(key: str):
    # One sync per inbox at a time across every worker (the cache is Redis in production).
    return cache.add(key, "1", LOCK_SECONDS)


@shared_task(name="mailboxes.sync_mailbox", acks_late=True)
def sync_mailbox(mailbox_id: int) -> int:
    key = f"mailbox-sync-{mailbox_id}"
    if not _locked(key):
        return 0
    try:
        return sync.sync_mailbox(mailbox_id)
    finally:
        cache.delete(key)


@shared_task(name="mailboxes.sync_all")
def sync_all() -> int:
    ids = list(sync.mailboxes_to_sync().values_list("pk", flat=True))
    for mailbox_id in ids:
        sync_mailbox.delay(mailbox_id)
    return len(ids)


@shared_task(name="mailboxes.reconcile_all")
def reconcile_all() -> int:
    found = 0
    for mailbox_id in sync.mailboxes_to_sync().values_list("pk", flat=True):
        key = f"mailbox-sync-{mailbox_id}"
        if _locked(key):
            try:
                found += sync.reconcile_mailbox(mailbox_id)
            finally:
                cache.delete(key)
    return found


@shared_task(name="mailboxes.fill_bodies")
def fill_bodies() -> int:
    total = 0
    while (done := bodies.fill_pending()) and total < 5000:
        total += done
    return total
