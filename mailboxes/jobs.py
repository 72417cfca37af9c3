"""Queue background work by task name, after the current transaction commits.

A module that does the work never imports the Celery task that wraps it: the task imports the
module (sync/tasks.py, outbox/tasks.py, ...), and the module asks for follow-up work through
`later()` with the task's name below. So no module imports its own caller, and tests and
benchmarks call the plain functions without Celery.

Each name is routed to the queue of its job in settings (CELERY_TASK_ROUTES).
"""

import logging

from celery import current_app
from django.db import transaction

log = logging.getLogger(__name__)

SYNC_MAILBOX = "mailboxes.sync_mailbox"
SYNC_ALL = "mailboxes.sync_all"
RECONCILE_ALL = "mailboxes.reconcile_all"
FILL_BODIES = "mailboxes.fill_bodies"
SEND_OUTBOUND = "mailboxes.send_outbound"
SEND_DUE = "mailboxes.send_due"
FILE_SENT_COPIES = "mailboxes.file_sent_copies"
FILE_OWED_COPIES = "mailboxes.file_owed_copies"
TRACKING_FLUSH = "mailboxes.tracking_flush"
REVOKE_GOOGLE_TOKEN = "mailboxes.revoke_google_token"


def now(name: str, *args) -> None:
    """Queue task `name` now. If the broker is down, log it: every job queued this way is
    also found by a periodic pass (send_due, sync_all), so nothing is lost."""
    try:
        current_app.signature(name, args=args).delay()
    except Exception:
        log.warning("could not queue %s%r; the periodic pass will do it", name, args, exc_info=True)


def later(name: str, *args) -> None:
    """Queue task `name` once the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: now(name, *args))
