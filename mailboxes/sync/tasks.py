"""Celery tasks of sync: thin wrappers that take ids and call engine.py or bodies.py.

One sync or reconciliation of an inbox at a time: the engine holds the inbox's lease in the
database (`lease.py`), so a worker killed mid-sync stalls nothing for longer than
`lease.SYNC_LEASE`.
"""

from celery import shared_task

from mailboxes import jobs
from mailboxes.sync import bodies, engine


@shared_task(name=jobs.SYNC_MAILBOX, acks_late=True)
def sync_mailbox(mailbox_id: int) -> int:
    return engine.sync_mailbox(mailbox_id)


@shared_task(name=jobs.SYNC_ALL)
def sync_all() -> int:
    ids = list(engine.mailboxes_to_sync().values_list("pk", flat=True))
    for mailbox_id in ids:
        sync_mailbox.delay(mailbox_id)
    return len(ids)


@shared_task(name=jobs.RECONCILE_ALL)
def reconcile_all() -> int:
    return sum(
        engine.reconcile_mailbox(mailbox_id)
        for mailbox_id in engine.mailboxes_to_sync().values_list("pk", flat=True)
    )


@shared_task(name=jobs.FILL_BODIES)
def fill_bodies() -> int:
    total = 0
    while (done := bodies.fill_pending()) and total < 5000:
        total += done
    return total
