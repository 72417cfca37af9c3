"""A sending worker killed mid-send (SIGKILL, no cleanup) never causes a second copy.

- killed while the SMTP server holds DATA (the message is on the wire, no answer yet): the
  Sent folder has no copy, so over plain SMTP the email becomes "uncertain" and is not resent;
- killed after the provider accepted the message but before the result was committed (a
  PostgreSQL lock holds the worker's final write): Gmail filed it under SENT, so recovery
  finds it there ("reconciled"); plain SMTP has nothing to find ("uncertain"); either way the
  recipient got exactly one copy.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from mailboxes import jobs
from mailboxes.constants import SendStatus, SentCopy
from mailboxes.models import Mailbox, Outbound
from mailboxes.outbox import copies
from mailboxes.outbox.actions import outbound_send_again
from mailboxes.outbox.reconcile import UNCERTAIN_WORDS
from mailboxes.outbox.sending import SEND_LEASE, send_due
from tests.mailboxes.inboxes import imap_mailbox
from tests.mailboxes.outbox import header, message_of, reload, sent_copies, submit
from tests.servers import server_missing

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning"),
    # Killed workers, held locks and a sink that sits on DATA: a bug here shows as a hang.
    pytest.mark.timeout(120),
]
# The tests commit (the worker under test is another process, started by hand): the jobs they
# queue go to the tests' in-memory broker (tests/conftest.py), where nothing runs them.
ROOT = Path(__file__).resolve().parents[2]
GMAIL_ADDRESS = "ana@example.test"


@pytest.fixture
def google(fake_google):
    """The Gmail fake (tests/fakes/google.py), with the app's Google settings pointed at it."""
    return fake_google


def gmail_inbox(owner, google) -> Mailbox:
    tokens = google.issue_tokens(GMAIL_ADDRESS)
    return Mailbox.objects.create(
        kind="personal",
        provider="gmail",
        email=GMAIL_ADDRESS,
        owner=owner,
        secret={
            "refresh_token": tokens["refresh_token"],
            "access_token": tokens["access_token"],
            "expiry": tokens["expiry"].isoformat(),
            "scope": tokens["scope"],
        },
    )


def start_worker(outbound: Outbound | None, google=None) -> subprocess.Popen:
    """Run `sending.send_outbound` for the row (or, for None, `send_due`) in a separate
    process on the test database."""
    if connection.vendor != "postgresql":
        server_missing("PostgreSQL (the worker is another process on the same database)")
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "crm_mail.settings",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:"
        f"{db['PORT'] or 5432}/{db['NAME']}",
    }
    if google is not None:
        env.update(
            GOOGLE_CLIENT_ID=google.client_id,
            GOOGLE_CLIENT_SECRET=google.client_secret,
            GOOGLE_TOKEN_URI=google.token_uri,
            GMAIL_API_BASE=google.api_base,
        )
    call = f"send_outbound({outbound.pk})" if outbound is not None else "send_due()"
    script = f"import django; django.setup(); from mailboxes.outbox.sending import *; print({call})"
    return subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def kill(worker: subprocess.Popen) -> None:
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=10)
    assert worker.returncode == -signal.SIGKILL


def wait_until(condition, worker: subprocess.Popen, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if worker.poll() is not None:
            raise AssertionError(f"the worker ended before {what}: {worker.communicate()}")
        time.sleep(0.02)
    raise AssertionError(f"the worker never got to {what}")


def blocked_on_lock(table: str):
    def check() -> bool:
        with connection.cursor() as cursor:
            # Inside a transaction PostgreSQL caches pg_stat_activity: take a fresh look.
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND query ILIKE %s",
                [f"%{table}%"],
            )
            return bool(cursor.fetchone()[0])

    return check


def expire_lease(outbound: Outbound) -> None:
    """Let the dead worker's lease run out, as SEND_LEASE later would."""
    Outbound.objects.filter(pk=outbound.pk).update(
        claimed_at=timezone.now() - SEND_LEASE - timedelta(seconds=1)
    )


def hold_data(sink, nth: int = 1) -> tuple[threading.Event, threading.Event]:
    """Make the sink sit on the nth DATA until released; a message whose session dropped is
    not kept."""
    entered, release = threading.Event(), threading.Event()
    store = sink.handler.handle_DATA
    seen = []

    async def handle_data(server, session, envelope):
        seen.append(1)
        if len(seen) != nth:
            return await store(server, session, envelope)
        entered.set()
        while not release.is_set():
            await asyncio.sleep(0.01)
        if server.transport is None or server.transport.is_closing():
            return "421 4.4.2 Connection dropped"
        return await store(server, session, envelope)

    sink.handler.handle_DATA = handle_data
    return entered, release


@pytest.mark.django_db(transaction=True)
def test_worker_killed_while_smtp_holds_data_leaves_it_uncertain_and_sends_nothing_again(
    owner, contact, dovecot, smtp_sink
):
    inbox = imap_mailbox(owner, dovecot, smtp_sink)
    outbound = submit(owner, inbox)
    entered, release = hold_data(smtp_sink)

    worker = start_worker(outbound)
    try:
        wait_until(entered.is_set, worker, "the middle of DATA")
        kill(worker)
    finally:
        release.set()
    time.sleep(0.2)  # let the sink notice the dropped session
    assert smtp_sink.messages == []

    row = reload(outbound)
    assert (row.status, row.attempts) == (SendStatus.SENDING, 1)  # committed before DATA
    assert send_due() == {}  # its lease has not run out: maybe the worker is just slow

    expire_lease(outbound)
    assert send_due() == {SendStatus.UNCERTAIN: 1}

    row = reload(outbound)
    assert row.status == SendStatus.UNCERTAIN
    assert row.last_error == UNCERTAIN_WORDS
    assert row.attempts == 1
    assert smtp_sink.messages == []
    assert sent_copies(dovecot, row.message.message_id) == []
    assert send_due() == {}  # never resent on its own

    # The rep checked with the recipient and sends it again.
    outbound_send_again(row)
    assert send_due() == {SendStatus.SENT: 1}
    assert len(smtp_sink.messages) == 1


@pytest.mark.django_db(transaction=True)
def test_worker_killed_in_a_batch_leaves_at_most_two_rows_unsettled_and_sends_nothing_twice(
    owner, contact, dovecot, smtp_sink
):
    # The pass sends two deep: while the second email is on the wire, the first is recorded
    # and the third already marked "sending". Killed there, the worker leaves two rows to
    # recovery; over plain SMTP both become uncertain, and nothing reaches anyone twice.
    inbox = imap_mailbox(owner, dovecot, smtp_sink)
    first, second, third, fourth = (submit(owner, inbox, subject=f"Part {i}") for i in range(4))
    entered, release = hold_data(smtp_sink, nth=2)

    worker = start_worker(None)
    try:
        wait_until(entered.is_set, worker, "the middle of the second DATA")
        wait_until(lambda: reload(third).status == SendStatus.SENDING, worker, "marking the third")
        kill(worker)
    finally:
        release.set()
    time.sleep(0.2)

    assert [header(m.data, "Subject") for m in smtp_sink.messages] == ["Part 0"]
    statuses = [reload(o).status for o in (first, second, third, fourth)]
    assert statuses == [SendStatus.SENT, SendStatus.SENDING, SendStatus.SENDING, SendStatus.QUEUED]

    Outbound.objects.filter(status=SendStatus.SENDING).update(
        claimed_at=timezone.now() - SEND_LEASE - timedelta(seconds=1)
    )
    Outbound.objects.filter(pk=fourth.pk).update(claimed_at=None)  # its claim expired too
    assert send_due() == {SendStatus.UNCERTAIN: 2, SendStatus.SENT: 1}
    assert [header(m.data, "Subject") for m in smtp_sink.messages] == ["Part 0", "Part 3"]


@pytest.mark.django_db(transaction=True)
def test_sent_copies_owed_by_a_killed_worker_are_filed_later_exactly_once(
    owner, contact, dovecot, smtp_sink, queued_jobs
):
    # The pass files Sent copies after its last send; killed before that, it used to leave
    # sent email without a copy and no trace of it. The copy is owed in the send's commit.
    inbox = imap_mailbox(owner, dovecot, smtp_sink)
    rows = [submit(owner, inbox, subject=f"Part {i}") for i in range(5)]
    entered, release = hold_data(smtp_sink, nth=4)

    worker = start_worker(None)
    try:
        wait_until(entered.is_set, worker, "the middle of the fourth DATA")
        wait_until(lambda: reload(rows[2]).status == SendStatus.SENT, worker, "the third")
        kill(worker)
    finally:
        release.set()

    sent = [o for o in rows if reload(o).status == SendStatus.SENT]
    assert len(sent) >= 2
    assert {reload(o).sent_copy for o in sent} == {SentCopy.OWED}
    assert all(sent_copies(dovecot, o.message.message_id) == [] for o in sent)

    # The periodic filer leaves fresh debts to the pass's own filer, then steps in.
    assert copies.file_owed_copies() == 0
    Outbound.objects.filter(pk__in=[o.pk for o in sent]).update(
        sent_at=timezone.now() - copies.OWED_GRACE - timedelta(seconds=1)
    )
    assert copies.file_owed_copies() == 1
    assert queued_jobs.args_of(jobs.FILE_SENT_COPIES) == [(inbox.pk,)]
    assert copies.file_sent_copies(inbox.pk) == len(sent)
    for o in sent:
        assert len(sent_copies(dovecot, o.message.message_id)) == 1
        assert reload(o).sent_copy == SentCopy.FILED
    assert copies.file_owed_copies() == 0


@pytest.mark.django_db
def test_a_filer_that_died_mid_chunk_appends_only_the_copies_not_yet_in_sent(
    owner, contact, dovecot, smtp_sink
):
    inbox = imap_mailbox(owner, dovecot, smtp_sink)
    Mailbox.objects.filter(pk=inbox.pk).update(server_files_sent=False)
    first, second = submit(owner, inbox), submit(owner, inbox, subject="Two")
    # A filer took both, appended the first, and died before recording anything.
    dead_filer = timezone.now() - copies.FILING_LEASE - timedelta(seconds=1)
    Outbound.objects.filter(pk__in=[first.pk, second.pk]).update(
        status=SendStatus.SENT, sent_copy=SentCopy.FILING, claimed_at=dead_filer
    )
    dovecot.deliver(bytes(message_of(first).raw), folder="Sent", seen=True)

    assert copies.file_sent_copies(inbox.pk) == 1

    assert len(sent_copies(dovecot, first.message.message_id)) == 1
    assert len(sent_copies(dovecot, second.message.message_id)) == 1
    assert {reload(o).sent_copy for o in (first, second)} == {SentCopy.FILED}


def run_until_final_write_blocks(outbound: Outbound, google=None) -> None:
    """Start a worker, let the provider accept the message, kill it before the result commits.

    The worker's last step writes the message row; holding that table in EXCLUSIVE mode
    (plain SELECTs still pass) stops it right there.
    """
    connection.set_autocommit(False)
    try:
        with connection.cursor() as cursor:
            cursor.execute("LOCK TABLE mailboxes_emailmessage IN EXCLUSIVE MODE")
        worker = start_worker(outbound, google)
        wait_until(blocked_on_lock("mailboxes_emailmessage"), worker, "the final write")
        kill(worker)
    finally:
        connection.rollback()
        connection.set_autocommit(True)


@pytest.mark.django_db(transaction=True)
def test_gmail_send_accepted_before_the_worker_died_is_reconciled_from_sent(
    owner, contact, google, postgresql
):
    inbox = gmail_inbox(owner, google)
    outbound = submit(owner, inbox)
    message_id = outbound.message.message_id

    run_until_final_write_blocks(outbound, google)

    (delivered,) = google.outbox
    assert header(delivered.raw, "Message-ID") == message_id
    row = reload(outbound)
    assert row.status == SendStatus.SENDING
    assert message_of(row).sent_at is None

    expire_lease(outbound)
    assert send_due() == {SendStatus.RECONCILED: 1}

    row = reload(outbound)
    assert row.status == SendStatus.RECONCILED
    assert row.provider_id == delivered.id
    assert row.sent_at is not None and message_of(row).sent_at == row.sent_at
    assert len(google.outbox) == 1  # found, not sent again
    assert send_due() == {}
    assert len(google.outbox) == 1


@pytest.mark.django_db(transaction=True)
def test_smtp_send_accepted_before_the_worker_died_is_uncertain_and_not_resent(
    owner, contact, dovecot, smtp_sink, postgresql
):
    inbox = imap_mailbox(owner, dovecot, smtp_sink)
    outbound = submit(owner, inbox)

    run_until_final_write_blocks(outbound)

    assert len(smtp_sink.messages) == 1
    # The Sent copy is APPENDed only after the result commits: there is none to find.
    assert sent_copies(dovecot, outbound.message.message_id) == []
    expire_lease(outbound)
    assert send_due() == {SendStatus.UNCERTAIN: 1}
    assert reload(outbound).status == SendStatus.UNCERTAIN
    assert send_due() == {}
    assert len(smtp_sink.messages) == 1


@pytest.mark.django_db(transaction=True)
def test_gmail_row_left_sending_before_the_request_went_out_is_sent_once(owner, contact, google):
    # A worker died after committing "sending" but before calling Gmail: SENT has no copy,
    # and Gmail files everything it sends there, so sending it now cannot duplicate it.
    inbox = gmail_inbox(owner, google)
    outbound = submit(owner, inbox)
    Outbound.objects.filter(pk=outbound.pk).update(status=SendStatus.SENDING, attempts=1)
    expire_lease(outbound)

    assert send_due() == {SendStatus.SENT: 1}

    row = reload(outbound)
    assert (row.status, row.attempts) == (SendStatus.SENT, 2)
    assert len(google.outbox) == 1
