"""The machinery of the fault runs, shared by `python -m faults` and the test that keeps it
honest (tests/integration/test_fault_harness.py).

The worker is a real `celery -A crm_mail worker -Q send`, prefork with one process as
docker-compose.yml runs it (with two), in a process group of its own: SIGKILL to the group takes
the pool child down mid-task with no cleanup, as `docker kill` or the OOM killer would. Beat's
part is played by the harness, faster: a `send_due` job every BEAT_SECONDS (beat: every 30 s),
and the run's waits cut short where the product would only wait for the clock:

- a retry's, a throttled row's or a lost answer's check's next_attempt_at is brought forward
  to now (the check waits CHECK_DELAY for providers that file sent mail a little late);
- after a kill, the dead worker's claims are expired (SEND_LEASE, 10 minutes, for a row left in
  "sending"; CLAIM_LEASE for rows it had claimed but not started), as time would expire them.

Nothing else of the product is touched: the counts come from the rows and the sink.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

from django.db import connection
from django.utils import timezone
from kombu import Connection

from crm_mail.celery import app
from mailboxes import jobs
from mailboxes.composer.drafts import Draft, email_submit
from mailboxes.constants import SendStatus
from mailboxes.models import Outbound
from mailboxes.outbox.outcomes import ACTIVE, WAITING
from mailboxes.outbox.sending import CLAIM_LEASE, SEND_LEASE
from tests.integration.servers import SinkHandler, stop_process_group

ROOT = Path(__file__).resolve().parents[1]
BEAT_SECONDS = 2.0
READY_SECONDS = 60.0
CELERY_WORKER = [sys.executable, "-m", "celery", "-A", "crm_mail", "worker", "-Q", "send"]
WORKER_OPTIONS = ["--concurrency=1", "--without-mingle", "--without-gossip", "--loglevel=info"]
MESSAGE_ID = re.compile(rb"^message-id:\s*(<[^>\s]*>)", re.I | re.M)
# The product says nothing went out, or that it may not have: not lost if the sink has none.
ADMITTED = (SendStatus.UNCERTAIN, SendStatus.FAILED)


def dropping_sink(every: int) -> SinkHandler:
    """A sink handler that keeps every message but, for every nth, drops the connection
    instead of answering 250: the server took it, the client never learns so (a lost reply)."""
    handler = SinkHandler()
    handler.lose_answer = lambda n: "stored" if n % every == 0 else None
    return handler


# -- queueing ------------------------------------------------------------------------------


def queue_emails(owner, inbox, recipients: list[str], count: int) -> list[int]:
    """Queue `count` emails from `inbox` as the composer does; return their Outbound ids."""
    ids = []
    for n in range(count):
        draft = Draft(
            sender=owner,
            from_key=f"{inbox.pk}:{inbox.email}",
            to=[recipients[n % len(recipients)]],
            subject=f"Fault run, email {n}",
            html=f"<p>Hello, this is email {n} of {count}.</p>",
            track=False,
        )
        ids.append(email_submit(draft).outbound.pk)
    return ids


# -- the sending side --------------------------------------------------------------------------


def database_url() -> str:
    """The URL of the database this process uses, for the worker."""
    db = connection.settings_dict
    login = db["USER"] + (f":{quote(db['PASSWORD'], safe='')}" if db["PASSWORD"] else "")
    return f"postgres://{login}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class SendService:
    """The worker process and beat's part, for the rows `ids`."""

    def __init__(self, ids: list[int], broker_url: str, log_dir: Path) -> None:
        self.ids = ids
        self.broker_url = broker_url
        self.log_dir = log_dir
        self.broker = Connection(broker_url)
        self.process: subprocess.Popen | None = None
        self.starts = 0
        self.beat_at = 0.0

    @property
    def log(self) -> Path:
        return self.log_dir / f"worker-{self.starts}.log"

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def start(self) -> None:
        self.starts += 1
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "crm_mail.settings",
            "DATABASE_URL": database_url(),
            "REDIS_URL": self.broker_url,
            "CELERY_TASK_ALWAYS_EAGER": "false",
        }
        name = f"--hostname=faults-{secrets.token_hex(4)}@%h"
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [*CELERY_WORKER, *WORKER_OPTIONS, name],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: the pool child goes with it
            )
        if self.wait_until(lambda: " ready." in self.output(), READY_SECONDS, 0.05) is None:
            raise RuntimeError(f"the worker did not start:\n{self.output()[-3000:]}")

    def kill(self) -> int:
        """SIGKILL the worker and its pool child; expire its claims; return how many rows it
        left in "sending"."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        # A statement the worker sent just before it died still runs to its end (and commits):
        # let its database sessions end before looking at the rows it held.
        if not _wait_for(lambda: not other_sessions(), 10.0):
            raise RuntimeError("the killed worker's database sessions did not end")
        now = timezone.now()
        # Rows an earlier kill left, expired already, may still wait for recovery: not these.
        held = Outbound.objects.filter(pk__in=self.ids, claimed_at__gt=now - CLAIM_LEASE)
        sending = held.filter(status=SendStatus.SENDING).update(
            claimed_at=now - SEND_LEASE - timedelta(seconds=1)
        )
        held.filter(status__in=WAITING).update(claimed_at=now - CLAIM_LEASE - timedelta(seconds=1))
        return sending

    def stop(self) -> None:
        """Warm shutdown (the task at hand may finish), then the group is killed."""
        if self.process is not None and self.process.poll() is None:
            stop_process_group(self.process, grace=20)
        self.broker.release()

    def beat(self) -> None:
        """Every BEAT_SECONDS: bring the run's waits forward and queue a send_due job."""
        if time.monotonic() - self.beat_at < BEAT_SECONDS:
            return
        self.beat_at = time.monotonic()
        now = timezone.now()
        Outbound.objects.filter(
            pk__in=self.ids, status__in=(*WAITING, SendStatus.CHECKING), next_attempt_at__gt=now
        ).update(next_attempt_at=now)
        app.signature(jobs.SEND_DUE).apply_async(connection=self.broker)

    def wait_until(self, condition, timeout: float, poll: float = 0.2) -> float | None:
        """Beat until `condition()` holds; return the seconds it took, None on timeout."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if condition():
                return time.monotonic() - started
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"the worker exited:\n{self.output()[-3000:]}")
            self.beat()
            time.sleep(poll)
        return None


def other_sessions() -> int:
    """Database sessions on this database other than this process's (the worker's)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
        )
        return cursor.fetchone()[0]


def _wait_for(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def purge(broker_url: str) -> None:
    """Empty the send queue of what an interrupted earlier run may have left."""
    with Connection(broker_url) as broker:
        broker.default_channel.queue_purge("send")


# -- a run and its count -------------------------------------------------------------------


@dataclass
class Tally:
    queued: int
    received: int
    duplicated: int
    lost: int
    uncertain: int
    statuses: Counter = field(default_factory=Counter)
    uncertain_received: int = 0
    strays: int = 0  # messages the sink stored that no row of the run sent

    @property
    def unsettled(self) -> int:
        return sum(self.statuses[s] for s in ACTIVE)

    @property
    def ok(self) -> bool:
        return not (self.duplicated or self.lost or self.unsettled or self.strays)

    def line(self, name: str) -> str:
        return (
            f"FAULTS name={name} queued={self.queued} received={self.received} "
            f"duplicated={self.duplicated} lost={self.lost} uncertain={self.uncertain}"
        )


def message_id(raw: bytes) -> str:
    match = MESSAGE_ID.search(raw[:8192])
    return match.group(1).decode() if match else ""


def tally(ids: list[int], sink) -> Tally:
    """Count the run's rows against what the sink stored (faults/__init__.py defines each)."""
    rows = dict(Outbound.objects.filter(pk__in=ids).values_list("message__message_id", "status"))
    copies = Counter(message_id(m.data) for m in list(sink.messages))
    got = {mid for mid in rows if copies[mid]}
    return Tally(
        queued=len(rows),
        received=len(got),
        duplicated=sum(copies[mid] - 1 for mid in got),
        lost=sum(1 for mid, status in rows.items() if mid not in got and status not in ADMITTED),
        uncertain=sum(1 for status in rows.values() if status == SendStatus.UNCERTAIN),
        statuses=Counter(rows.values()),
        uncertain_received=sum(1 for mid in got if rows[mid] == SendStatus.UNCERTAIN),
        strays=sum(n for mid, n in copies.items() if mid not in rows),
    )


@dataclass
class Outcome:
    """What a run did and counted."""

    tally: Tally
    killed_at: list[tuple[int, int]]  # per SIGKILL: messages the sink had, rows left "sending"
    kills_missed: int  # kills not made: the worker stopped sending before
    settle_seconds: float
    settled_in: float | None  # from the last (re)start until every row was final; None: never

    @property
    def ok(self) -> bool:
        return self.tally.ok and not self.kills_missed and self.settled_in is not None

    def report(self) -> list[str]:
        """Context lines; the ones that fail the run start with FAIL."""
        t = self.tally
        lines = [
            f"  SIGKILL at {at:,} received, {left} row(s) left in sending; restarted"
            for at, left in self.killed_at
        ]
        if self.kills_missed:
            lines.append(f"FAIL {self.kills_missed} kill(s) not made: the sending stopped short")
        if self.settled_in is None:
            lines.append(f"FAIL {t.unsettled} row(s) not final after {self.settle_seconds:.0f} s")
        else:
            lines.append(f"  every row final {self.settled_in:.1f} s after the last (re)start")
        lines.append("  statuses: " + ", ".join(f"{s}={n}" for s, n in sorted(t.statuses.items())))
        if t.uncertain:
            lines.append(f"  uncertain: {t.uncertain_received} of {t.uncertain} reached the sink")
        if t.strays:
            lines.append(f"FAIL the sink stored {t.strays} message(s) no row of the run sent")
        return lines


def run_sends(ids, sink, broker_url: str, log_dir: Path, kills: int, settle_seconds: float, rng):
    """Send the queued rows `ids`, killing the worker `kills` times at random moments while it
    sends, each time restarted; wait until every row is final; return the Outcome."""
    count = len(ids)
    marks = sorted(rng.sample(range(count // 10, count * 9 // 10), kills))
    killed_at = []
    service = SendService(ids, broker_url, log_dir)

    def settled() -> bool:
        return not Outbound.objects.filter(pk__in=ids, status__in=ACTIVE).exists()

    def stored(count: int):
        return lambda: len(sink.messages) >= count

    def in_flight() -> bool:
        live = timezone.now() - SEND_LEASE  # not a row a killed worker left
        return Outbound.objects.filter(
            pk__in=ids, status=SendStatus.SENDING, claimed_at__gt=live
        ).exists()

    try:
        service.start()
        for mark in marks:
            # Once the sink holds `mark` messages (and one more since the last restart), when
            # an email is marked "sending", a few milliseconds later: on the wire, waiting for
            # its reply or its result being recorded, or already on to the next.
            target = max(mark, len(sink.messages) + 1)
            if service.wait_until(stored(target), settle_seconds, 0.001) is None:
                break
            if service.wait_until(in_flight, settle_seconds, 0.001) is None:
                break
            time.sleep(rng.uniform(0, 0.01))
            at = len(sink.messages)
            killed_at.append((at, service.kill()))
            service.start()
        took = service.wait_until(settled, settle_seconds)
    finally:
        service.stop()
    return Outcome(tally(ids, sink), killed_at, kills - len(killed_at), settle_seconds, took)
