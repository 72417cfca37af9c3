"""Every Celery task of mailboxes, for Celery's autodiscovery: each sub-package keeps its own
in its tasks.py, and code that queues one uses mailboxes.jobs (by name) instead of importing
it."""

from mailboxes.connecting import tasks as connecting  # noqa: F401
from mailboxes.conversations import tasks as conversations  # noqa: F401
from mailboxes.outbox import tasks as outbox  # noqa: F401
from mailboxes.reports import tasks as reports  # noqa: F401
from mailboxes.sync import tasks as sync  # noqa: F401
from mailboxes.tracking import tasks as tracking  # noqa: F401
