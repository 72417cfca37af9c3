"""The names of the background jobs of mailboxes and the apps above it (sequences declares
its tick in sequences/engine/tasks.py; it is named here with the rest for the routes).

Queueing itself, `later()`, `later_batched()` and `later_many()` on commit, and `now()`, is
records' (records/jobs.py, the core, which names its own jobs); it is imported
here so that mailboxes' modules keep one import.
"""

from records.jobs import (  # noqa: F401
    ENQUEUE_TIMEOUT,
    broker_connection,
    later,
    later_batched,
    later_many,
    now,
)

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
CONVERSATIONS_WAKE = "mailboxes.conversations_wake"
REPORTS_REFRESH = "mailboxes.reports_refresh"
# Declared by transactional (transactional/pool/tasks.py), on the "transactional" queue: one
# email through the sending pool, and the periodic pass over deferred and scheduled ones.
SEND_TRANSACTIONAL = "transactional.send"
SEND_TRANSACTIONAL_DUE = "transactional.send_due"
# Declared by transactional (transactional/api/tasks.py), on the same queue: one single-send
# API request made into its email, and the pass over requests whose job was lost.
SINGLE_SEND = "transactional.single_send"
SINGLE_SEND_DUE = "transactional.single_send_due"
# Declared by transactional (transactional/events/tasks.py), on the "transactional" queue: one
# webhook delivery, and the periodic pass over those due again.
DELIVER_WEBHOOK = "transactional.deliver_webhook"
DELIVER_WEBHOOKS_DUE = "transactional.deliver_webhooks_due"
# Declared by sequences (sequences/engine/tasks.py); named here with the rest for the routes.
SEQUENCE_TICK = "sequences.tick"
