"""Queue background work by task name, after the current transaction commits.

A module that does the work never imports the Celery task that wraps it: the task imports the
module (records/tasks.py, mailboxes' sub-packages' tasks.py, ...), and the module asks for
follow-up work through `later()` with the task's name. So no module imports its own caller,
and tests and benchmarks call the plain functions without Celery. The names are declared by
the app that owns the work (below for records, mailboxes/jobs.py for mailboxes and the apps
above it), each routed to the queue of its job in settings (CELERY_TASK_ROUTES).

A broker outage costs the caller nothing: the work it asks for is already committed, so
queueing tries once, waits at most ENQUEUE_TIMEOUT for the broker (a Redis that accepts
connections and never answers included), and on failure logs one line, at most once a minute
per process. An email is not lost that way: its due row is the source of truth, and the
periodic `send_due` sends it, and a Sent-folder copy is owed on its row, which the periodic
`file_owed_copies` files. (A Google token revocation or a notification asked for during the
outage is not done.) The workers and beat keep the patient connection settings of
CELERY_BROKER_TRANSPORT_OPTIONS.
"""

import logging
import time

from celery import current_app
from django.db import transaction
from kombu import pools
from kombu.exceptions import OperationalError

log = logging.getLogger(__name__)

# An email to a user from the product itself (records/notifications.py).
NOTIFY = "records.notify"

# Seconds a job may wait for the broker to connect, and then for each reply: Redis answers in
# well under a millisecond, and the caller is often a web request.
ENQUEUE_TIMEOUT = 0.2
# While the broker is down every job fails to queue: say so once a minute, not once a job.
WARN_EVERY = 60.0


def broker_connection(timeout: float):
    """A connection to the broker that tries once and, on Redis, waits at most `timeout`
    seconds to connect and for each reply. The embedded broker (a SQLite file) keeps its own
    options: SQLAlchemy would refuse socket ones, and its lock waits last milliseconds."""
    options = {"max_retries": 0}
    if current_app.conf.broker_url.startswith(("redis:", "rediss:")):
        options |= {"socket_connect_timeout": timeout, "socket_timeout": timeout}
    return current_app.connection_for_write(transport_options=options)


def now(name: str, *args) -> None:
    """Queue task `name` now; if the broker does not take it at once, leave it (see above)."""
    _queue(name, [args])


def later_many(name: str, calls: list[tuple]) -> None:
    """Queue task `name` once for each arguments of `calls` once the current transaction
    commits, through one producer (a batch of emails' send jobs)."""
    if calls:
        transaction.on_commit(lambda: _queue(name, calls))


def _queue(name: str, calls: list[tuple]) -> None:
    try:
        # kombu's shared pool for this URL and these options, as Celery keeps its own.
        with pools.producers[broker_connection(ENQUEUE_TIMEOUT)].acquire(block=True) as producer:
            for args in calls:
                current_app.signature(name, args=args).apply_async(producer=producer, retry=False)
    except OperationalError as exc:  # what kombu makes of any connection error or timeout
        _outage.not_queued(name, exc)
    except Exception:  # not an outage but a bug: its traceback, yet the caller's work is done
        log.exception("could not queue %s", name)
    else:
        _outage.queued()


def later(name: str, *args) -> None:
    """Queue task `name` once the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: now(name, *args))


class _Outage:
    """The jobs this process could not queue since it last said so. Not locked: two threads
    racing may both warn, which is harmless."""

    def __init__(self) -> None:
        self.warned_at: float | None = None
        self.unreported = 0

    def not_queued(self, name: str, exc: Exception) -> None:
        if self.warned_at is not None and time.monotonic() - self.warned_at < WARN_EVERY:
            self.unreported += 1
            return
        # The job's arguments stay out of the log: a token revocation carries the token.
        also = f" ({self.unreported} more since the last warning)" if self.unreported else ""
        log.warning(
            "broker unreachable (%s: %s): %s not queued%s", type(exc).__name__, exc, name, also
        )
        self.warned_at, self.unreported = time.monotonic(), 0

    def queued(self) -> None:
        if self.warned_at is not None:
            also = f"; {self.unreported} more jobs were not queued" if self.unreported else ""
            log.info("broker reachable again%s", also)
            self.warned_at, self.unreported = None, 0


_outage = _Outage()
