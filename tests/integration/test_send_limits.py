"""Sending limits hold to the moment mail reaches the server, across a minute boundary: with
two worker processes sending from one inbox at once, and with a server that stalls.

A server counts a message when its DATA completes. The workers take their tokens before the
message goes out, sometimes behind another one on the wire: a message handed over in the last
moments of a minute lands in the next one, whose tokens the workers then spend as well. Each
test waits for the next minute boundary (half a minute on average).
"""

from __future__ import annotations

import asyncio
import os
import select
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from mailboxes.constants import SendStatus
from mailboxes.models import Outbound, SendCounter
from mailboxes.models.outbound import MINUTE, window_start
from mailboxes.outbox import throttle
from mailboxes.outbox.sending import FIRST_SEND_GUESS, WINDOW_SLACK, send_due
from tests.integration.servers import arrivals_by_window, over_limits
from tests.mailboxes.inboxes import imap_mailbox
from tests.mailboxes.outbox import header, reload, submit
from tests.servers import server_missing

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning"),
    # Up to a minute waiting for the next minute boundary, then a few seconds of sending.
    pytest.mark.timeout(150),
]
ROOT = Path(__file__).resolve().parents[2]
PER_MINUTE, PER_DAY = 4, 1000
# The sink answers DATA this long after the message arrived; the mail falls due this long
# before the boundary: what is handed over then lands after it.
DATA_DELAY, DUE_BEFORE = 1.5, 1.0
# Time after the boundary for the workers to spend the next minute's tokens.
AFTER = 5.0
# A worker: `send_due` passes in a loop, batches of two, until told to stop (or 100 s pass).
LOOP = """
import select, sys, time, django
django.setup()
from mailboxes.outbox.sending import send_due
send_due(limit=2, seconds=1)
print("ready", flush=True)
deadline = time.monotonic() + 100
while time.monotonic() < deadline and not select.select([sys.stdin], [], [], 0.05)[0]:
    send_due(limit=2, seconds=1)
"""


def start_loop() -> subprocess.Popen:
    """Run LOOP in a separate process on the test database."""
    if connection.vendor != "postgresql":
        server_missing("PostgreSQL (the workers are other processes on the same database)")
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "crm_mail.settings",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:"
        f"{db['PORT'] or 5432}/{db['NAME']}",
        # The Sent copies are filed by the worker itself, not queued to a broker.
        "CELERY_TASK_ALWAYS_EAGER": "1",
    }
    return subprocess.Popen(
        [sys.executable, "-c", LOOP],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_ready(worker: subprocess.Popen, timeout: float = 60.0) -> None:
    ready, _, _ = select.select([worker.stdout], [], [], timeout)
    line = worker.stdout.readline() if ready else ""
    if line.strip() != "ready":
        worker.kill()
        raise AssertionError(f"a worker did not start: {worker.communicate()}")


def stop(worker: subprocess.Popen) -> str:
    """Tell the loop to stop after its pass; return what it wrote to stderr."""
    if worker.poll() is None:
        worker.stdin.write("stop\n")
        worker.stdin.flush()
    try:
        _, err = worker.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        worker.kill()
        _, err = worker.communicate()
    return err


def next_boundary(lead: float) -> datetime:
    """The first minute boundary at least `lead` seconds from now."""
    return window_start(MINUTE, timezone.now() + timedelta(seconds=lead)) + timedelta(minutes=1)


def sleep_until(moment: datetime) -> None:
    time.sleep(max(0.0, (moment - timezone.now()).total_seconds()))


@pytest.mark.django_db(transaction=True)
def test_two_workers_at_a_minute_boundary_keep_every_window_under_its_limit(
    owner, contact, dovecot, smtp_sink
):
    inbox = imap_mailbox(
        owner, dovecot, smtp_sink, send_per_minute=PER_MINUTE, send_per_day=PER_DAY
    )
    ids = [submit(owner, inbox, subject=f"Note {n}").pk for n in range(12)]
    # Not due until the workers are up and the boundary is near.
    Outbound.objects.filter(pk__in=ids).update(next_attempt_at=timezone.now() + timedelta(hours=1))
    smtp_sink.handler.data_delay = DATA_DELAY
    workers = [start_loop() for _ in range(2)]
    try:
        for worker in workers:
            wait_ready(worker)
        boundary = next_boundary(DUE_BEFORE + 1.0)
        Outbound.objects.filter(pk__in=ids).update(
            next_attempt_at=boundary - timedelta(seconds=DUE_BEFORE)
        )
        sleep_until(boundary + timedelta(seconds=AFTER))
    finally:
        errors = [stop(worker) for worker in workers]
    assert all(w.returncode == 0 for w in workers), errors

    arrivals = [(m.mail_from, m.received_at) for m in smtp_sink.messages]
    assert over_limits(arrivals, {inbox.email: {"minute": PER_MINUTE, "day": PER_DAY}}) == []
    # Not short of the limit either: the minute after the boundary used all of it.
    counts = arrivals_by_window(arrivals)
    assert counts[inbox.email, MINUTE, boundary] == PER_MINUTE
    assert len({m.data for m in smtp_sink.messages}) == len(smtp_sink.messages)


def hold_first_data_until(sink, moment: datetime) -> None:
    """Make the sink answer the first DATA only at `moment` (a server stalling)."""
    store, held = sink.handler.handle_DATA, []

    async def handle_data(server, session, envelope):
        if not held:
            held.append(1)
            await asyncio.sleep(max(0.0, (moment - timezone.now()).total_seconds()))
        return await store(server, session, envelope)

    sink.handler.handle_DATA = handle_data


@pytest.mark.django_db(transaction=True)
def test_a_send_stalled_across_a_boundary_holds_back_the_next_and_counts_where_it_landed(
    owner, contact, dovecot, smtp_sink
):
    # The first message is handed over well inside a minute and the server sits on its DATA
    # until just after the minute ends. The second, handed over with it on that minute's
    # tokens, would go out in the next minute: it is held back, untouched, its tokens given
    # back. The first landed in the next minute, so it counts there too, and that minute
    # lets one more go, not two.
    inbox = imap_mailbox(owner, dovecot, smtp_sink, send_per_minute=2, send_per_day=PER_DAY)
    rows = [submit(owner, inbox, subject=f"Note {n}") for n in range(4)]
    # Far enough ahead that the first two are handed over on this minute's tokens alone,
    # near enough that the stall stays under the SMTP client's timeout.
    lead = timedelta(seconds=2 * (WINDOW_SLACK + FIRST_SEND_GUESS) + 3.0)
    boundary = next_boundary(lead.total_seconds())
    hold_first_data_until(smtp_sink, boundary + timedelta(seconds=0.3))
    sleep_until(boundary - lead)

    assert send_due() == {SendStatus.SENT: 2, "held back": 1, "throttled": 1}

    arrivals = [(m.mail_from, m.received_at) for m in smtp_sink.messages]
    assert over_limits(arrivals, {inbox.email: {"minute": 2, "day": PER_DAY}}) == []
    assert arrivals_by_window(arrivals)[inbox.email, MINUTE, boundary] == 2
    assert [header(m.data, "Subject") for m in smtp_sink.messages] == ["Note 0", "Note 2"]
    held_back = reload(rows[1])
    assert (held_back.status, held_back.attempts, held_back.claimed_at) == (
        SendStatus.QUEUED,
        0,
        None,
    )
    # The minute before kept only the first one's token; the one after counts both sends.
    counters = SendCounter.objects.filter(mailbox=inbox, window=MINUTE)
    assert dict(counters.values_list("starts_at", "count")) == {
        boundary - timedelta(minutes=1): 1,
        boundary: 2,
    }
    assert throttle.used(inbox, boundary) == {"minute": 2, "day": 2}
    # The held-back email waits for the next minute like the rest.
    assert send_due() == {"throttled": 1}
    assert reload(rows[1]).next_attempt_at == boundary + timedelta(minutes=1)
    assert len(smtp_sink.messages) == 2
