"""Celery tasks: thin wrappers over sync, reconciliation and body parsing."""

from celery import shared_task
from django.core.cache import cache

from . import bodies, sending, sync

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


@shared_task(name="mailboxes.send_outbound", acks_late=True)
def send_outbound(outbound_id: int) -> str | None:
    # Idempotent: the row is claimed with SKIP LOCKED, so a redelivered task finds it taken
    # or done and returns None.
    return sending.send_outbound(outbound_id)


@shared_task(name="mailboxes.send_due")
def send_due() -> int:
    return sum(sending.send_due().values())


@shared_task(name="mailboxes.tracking_flush")
def tracking_flush() -> int:
    """Write the open and click hits the web processes buffered in Redis, in one batch."""
    from . import tracking

    return tracking.flush_events()


@shared_task(name="mailboxes.file_sent_copies", acks_late=True)
def file_sent_copies(mailbox_id: int, outbound_ids: list[int]) -> int:
    return sending.file_sent_copies(mailbox_id, outbound_ids)


@shared_task(name="mailboxes.revoke_google_token", ignore_result=True)
def revoke_google_token(token: str) -> bool:
    """Revoke a disconnected Gmail inbox's grant at Google; an already invalid token counts."""
    from django.conf import settings

    from .providers.google_oauth import revoke

    return revoke(token, settings.GOOGLE_REVOKE_URI)
