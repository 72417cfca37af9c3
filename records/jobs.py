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

import atexit
import base64
import json
import logging
import os
import threading
import time
import uuid
from collections import deque

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
# How long `later_batched()` jobs wait for others to share their LPUSH.
BATCH_SECONDS = 0.02


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


def later_batched(name: str, *args) -> None:
    """Queue task `name` once the current transaction commits, from this process's
    background thread, in one LPUSH with whatever other jobs wait, at most
    BATCH_SECONDS later: for a job a request on a hot path queues, whose row is the truth.
    One Redis round trip a request cost the single-send API about a tenth of its rate
    (bench/single_send_api.py). What waits is pushed when the process exits normally
    (gunicorn's SIGTERM, max-requests, reload); a process killed outright loses it, and so
    does a broker outage, as for every job here: the periodic pass over the rows takes them.
    Without a Redis broker to LPUSH to (the embedded one), queued at once as `later()` does."""
    app = current_app._get_current_object()
    transaction.on_commit(lambda: _waiting.add(app, name, args))


def _lpush(target: tuple, name: str, calls: list[tuple]) -> None:
    """One LPUSH of the message Celery would publish for task `name`, for each arguments of
    `calls`: the task message protocol 2 in kombu's Redis envelope, onto the task's queue
    (CELERY_TASK_ROUTES). Celery's own publish costs about ten times as much (its signature,
    options, routing and kombu's producer: ~0.45 ms here, the LPUSH ~0.04 ms); a worker
    cannot tell the two apart (tests/transactional/test_single_send_fast.py has a real one
    consume it)."""
    client, queue, ignore_result = target
    try:
        client.lpush(queue, *(_message(name, args, queue, ignore_result) for args in calls))
    except redis.RedisError as exc:
        _outage.not_queued(name, exc, len(calls))
    else:
        _outage.queued()


def _message(name: str, args: tuple, queue: str, ignore_result: bool) -> str:
    task_id = str(uuid.uuid4())
    body = json.dumps([list(args), {}, _embed]).encode()
    return json.dumps(
        {
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
    )


class _Waiting:
    """The `later_batched()` jobs of this process not pushed yet, and the thread that pushes
    them. A deque: the request path appends and the thread pops without a lock."""

    def __init__(self) -> None:
        self.forked()

    def forked(self) -> None:
        # A forked child starts empty (its parent pushes what it held) with no thread yet.
        self.jobs: deque[tuple[tuple, str, tuple]] = deque()
        self.wake = threading.Event()
        self.starting = threading.Lock()
        self.thread: threading.Thread | None = None

    def add(self, app: Celery, name: str, args: tuple) -> None:
        target = _lpush_target(app, name)
        if target is None:
            now(name, *args)  # on the caller's thread, at its commit: the caller's app
            return
        if self.thread is None:
            self._start()
        self.jobs.append((target, name, args))
        self.wake.set()

    def _start(self) -> None:
        with self.starting:
            if self.thread is None:
                self.thread = threading.Thread(target=self._run, name="jobs-push", daemon=True)
                self.thread.start()
                atexit.register(self.push)

    def _run(self) -> None:
        while True:
            self.wake.wait()
            time.sleep(BATCH_SECONDS)
            self.wake.clear()  # before taking them: a job added after this wakes it again
            try:
                self.push()
            except Exception:  # a bug, not an outage (`_lpush` takes those): the thread lives on
                log.exception("could not push the waiting jobs")

    def push(self) -> int:
        """Push every waiting job now, one LPUSH per queue and task; return how many."""
        # Those there now; a job added meanwhile waits for the next push.
        waiting = [self.jobs.popleft() for _ in range(len(self.jobs))]
        batches: dict[tuple[tuple, str], list[tuple]] = {}
        for target, name, args in waiting:
            batches.setdefault((target, name), []).append(args)
        for (target, name), calls in batches.items():
            _lpush(target, name, calls)
        return len(waiting)


_waiting = _Waiting()
os.register_at_fork(after_in_child=_waiting.forked)


def push_waiting() -> int:
    """Push this process's waiting `later_batched()` jobs now (tests); return how many."""
    return _waiting.push()


_embed = {"callbacks": None, "errbacks": None, "chain": None, "chord": None}
_origin = anon_nodename()
_targets: dict[tuple[Celery, str, str], tuple | None] = {}


def _lpush_target(app: Celery, name: str) -> tuple | None:
    """(Redis client, queue, ignore_result) of task `name` on the app's broker, or None when
    it must be left to Celery (another broker, a route that is not a plain queue, kombu's key
    prefix: through `now()`, as are the failures' log lines). Worked out once per app,
    broker and task (reading the broker's URL alone costs Celery ~15 µs)."""
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

    def not_queued(self, name: str, exc: Exception, jobs: int = 1) -> None:
        if self.warned_at is not None and time.monotonic() - self.warned_at < WARN_EVERY:
            self.unreported += jobs
            return
        # The job's arguments stay out of the log: a token revocation carries the token.
        also = f" ({self.unreported} more since the last warning)" if self.unreported else ""
        what = name if jobs == 1 else f"{jobs} jobs of {name}"
        log.warning(
            "broker unreachable (%s: %s): %s not queued%s", type(exc).__name__, exc, what, also
        )
        self.warned_at, self.unreported = time.monotonic(), 0

    def queued(self) -> None:
        if self.warned_at is not None:
            also = f"; {self.unreported} more jobs were not queued" if self.unreported else ""
            log.info("broker reachable again%s", also)
            self.warned_at, self.unreported = None, 0


_outage = _Outage()
