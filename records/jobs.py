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

import base64
import json
import logging
import time
import uuid

import redis
from celery import Celery, current_app
from celery.utils.nodenames import anon_nodename
from django.db import transaction
from kombu import pools
from kombu.exceptions import OperationalError

log = logging.getLogger(__name__)

# An email to a user from the product itself (records/notifications.py).
NOTIFY = "records.notify"
# A CSV import's rows, in batches (records/imports/runner.py).
IMPORT_RUN = "records.import_run"

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


def later_pushed(name: str, *args) -> None:
    """As `later()`, through `push()`: for a job queued on a hot path."""
    transaction.on_commit(lambda: push(name, *args))


def push(name: str, *args) -> None:
    """Queue task `name` now, as `now()` does, with one Redis LPUSH of the message Celery
    would publish: the task message protocol 2 in kombu's Redis envelope, onto the task's
    queue (CELERY_TASK_ROUTES). Celery's own publish costs about ten times as much (its
    signature, options, routing and kombu's producer: ~0.45 ms here, the LPUSH ~0.04 ms);
    a worker cannot tell the two apart (tests/transactional/test_single_send_fast.py has a
    real one consume it). Another broker, a route that is not a plain queue or kombu's
    key prefix: through `now()`, as are the failures' log lines."""
    target = _lpush_target(current_app._get_current_object(), name)
    if target is None:
        now(name, *args)
        return
    client, queue, ignore_result = target
    task_id = str(uuid.uuid4())
    body = json.dumps([list(args), {}, _embed]).encode()
    message = {
        "body": base64.b64encode(body).decode(),
        "content-encoding": "utf-8",
        "content-type": "application/json",
        "headers": {
            "lang": "py",
            "task": name,
            "id": task_id,
            "shadow": None,
            "eta": None,
            "expires": None,
            "group": None,
            "group_index": None,
            "retries": 0,
            "timelimit": [None, None],
            "root_id": task_id,
            "parent_id": None,
            "argsrepr": repr(tuple(args)),
            "kwargsrepr": "{}",
            "origin": _origin,
            "ignore_result": ignore_result,
            "replaced_task_nesting": 0,
            "stamped_headers": None,
            "stamps": {},
        },
        "properties": {
            "correlation_id": task_id,
            "reply_to": "",
            "delivery_mode": 2,
            "delivery_info": {"exchange": "", "routing_key": queue},
            "priority": 0,
            "body_encoding": "base64",
            "delivery_tag": str(uuid.uuid4()),
        },
    }
    try:
        client.lpush(queue, json.dumps(message))
    except redis.RedisError as exc:
        _outage.not_queued(name, exc)
    else:
        _outage.queued()


_embed = {"callbacks": None, "errbacks": None, "chain": None, "chord": None}
_origin = anon_nodename()
_targets: dict[tuple[Celery, str, str], tuple | None] = {}


def _lpush_target(app: Celery, name: str) -> tuple | None:
    """(Redis client, queue, ignore_result) of task `name` on the app's broker, or None when
    `push()` must leave it to Celery. Worked out once per app, broker and task (reading the
    broker's URL alone costs Celery ~15 µs)."""
    key = (app, name, app.conf.get("broker_url"))
    if key not in _targets:
        _targets[key] = _target(app, name)
    return _targets[key]


def _target(app: Celery, name: str) -> tuple | None:
    conf = app.conf
    broker_url = conf.broker_url
    options = conf.broker_transport_options or {}
    if not broker_url.startswith("redis://") or options.get("global_keyprefix"):
        return None
    routes = conf.task_routes or {}
    if not isinstance(routes, dict):
        return None
    route = routes.get(name, {"queue": conf.task_default_queue})
    if not isinstance(route, dict) or set(route) != {"queue"}:
        return None
    if not isinstance(route["queue"], str):
        return None
    task = app.tasks.get(name)
    ignore_result = task.ignore_result if task is not None else conf.task_ignore_result
    client = redis.Redis.from_url(
        broker_url, socket_connect_timeout=ENQUEUE_TIMEOUT, socket_timeout=ENQUEUE_TIMEOUT
    )
    return client, route["queue"], bool(ignore_result)


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
