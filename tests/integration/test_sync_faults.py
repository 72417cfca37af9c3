"""Faults during sync against a real Dovecot: nothing lost, nothing logged twice.

- the server's connection drops in the middle of fetching message bodies;
- the worker process is killed in the middle of writing a batch (SIGKILL, no cleanup);
- the worker process is killed in the middle of fetching messages: its inbox's lease runs out
  and the next sync takes over, and until then a sync says it waits;
- a worker that lost its lease to another writes nothing more;
(the UIDVALIDITY change is in test_sync_imap.py).
"""

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from email.message import EmailMessage as MimeMessage
from email.utils import make_msgid
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from mailboxes.connecting.connections import provider_for
from mailboxes.models import EmailMessage, FolderSync, SyncLease
from mailboxes.sync import lease
from mailboxes.sync.engine import ensure_folders, sync_folder, sync_mailbox
from mailboxes.sync.lease import SYNC_LEASE
from mailboxes.sync.tasks import sync_mailbox as sync_task
from records.models import ActivityLink
from tests.factories import ContactFactory
from tests.mailboxes.inboxes import imap_mailbox
from tests.servers import server_missing

from .flaky_proxy import CuttingProxy

# A dropped connection and a killed worker: a bug here shows as a hang.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]
ROOT = Path(__file__).resolve().parents[2]
ME = "rep@crm.example"
MESSAGES = 40


def big_message(i: int, *, message_id: bool = True) -> bytes:
    msg = MimeMessage()
    msg["From"], msg["To"], msg["Subject"] = "zoe@client.example", ME, f"Report {i}"
    if message_id:
        msg["Message-ID"] = make_msgid(domain="test.example")
    msg.set_content(("Quarterly figures line. " * 40 + "\n") * 20)  # ~20 KB
    return bytes(msg)


def start_worker(code: str) -> subprocess.Popen:
    """Run `code` after django.setup() in another process on the tests' database."""
    settings = connection.settings_dict
    if connection.vendor == "postgresql":
        url = (
            f"postgres://{settings['USER']}@{settings['HOST'] or '127.0.0.1'}:"
            f"{settings['PORT'] or 5432}/{settings['NAME']}"
        )
    else:
        url = f"sqlite:///{settings['NAME']}"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "crm_mail.settings", "DATABASE_URL": url}
    script = f"import django; django.setup(); {code}"
    return subprocess.Popen(
        [sys.executable, "-c", script], cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True
    )


def expire_lease(inbox) -> None:
    """Let the dead worker's lease run out, as SYNC_LEASE without a renewal would."""
    SyncLease.objects.filter(mailbox=inbox).update(expires_at=timezone.now() - timedelta(seconds=1))


@pytest.mark.django_db
def test_connection_dropped_mid_fetch_loses_and_duplicates_nothing(dovecot, owner):
    ContactFactory(owner=owner, emails=["zoe@client.example"])
    for i in range(MESSAGES):
        dovecot.deliver(big_message(i))
    proxy = CuttingProxy(dovecot.host, dovecot.port)
    try:
        inbox = imap_mailbox(owner, dovecot, email=ME, config={"imap_port": proxy.port})
        proxy.cut_after = 150_000  # past the headers, inside the message bodies
        sync_mailbox(inbox.pk)
        assert proxy.cuts >= 1
        state = FolderSync.objects.get(mailbox=inbox, role="inbox")
        assert state.last_error and state.cursor == ""  # nothing half-committed
        assert EmailMessage.objects.count() == 0
        proxy.cut_after = None
        sync_mailbox(inbox.pk)
    finally:
        proxy.close()
    assert EmailMessage.objects.count() == MESSAGES
    assert ActivityLink.objects.count() == MESSAGES
    assert FolderSync.objects.get(mailbox=inbox, role="inbox").last_error == ""


def _wait_for_lock_wait(pid_pattern: str, worker, timeout: float = 30.0) -> None:
    with connection.cursor() as cursor:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            # Inside a transaction PostgreSQL caches pg_stat_activity: take a fresh look.
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND query ILIKE %s",
                [pid_pattern],
            )
            if cursor.fetchone()[0]:
                return
            if worker.poll() is not None:
                raise AssertionError(f"the worker ended early: {worker.stderr.read()}")
            time.sleep(0.05)
    raise AssertionError("the worker never reached the locked write")


@pytest.mark.django_db(transaction=True)
def test_worker_killed_mid_batch_logs_everything_once_after_restart(dovecot, owner):
    if connection.vendor != "postgresql":
        server_missing("PostgreSQL (the test holds a table lock to stop the worker mid-batch)")
    ContactFactory(owner=owner, emails=["zoe@client.example"])
    for i in range(MESSAGES):
        dovecot.deliver(big_message(i))
    inbox = imap_mailbox(owner, dovecot, email=ME)
    # Hold the timeline table so the worker blocks halfway through writing its batch:
    # threads, activities and messages are inserted, the timeline links are not.
    blocker = connection.cursor()
    connection.set_autocommit(False)
    blocker.execute("LOCK TABLE records_activitylink IN EXCLUSIVE MODE")
    worker = start_worker(
        f"from mailboxes.sync.engine import sync_mailbox; sync_mailbox({inbox.pk})"
    )
    try:
        _wait_for_lock_wait("%records_activitylink%", worker)
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
    finally:
        connection.rollback()
        connection.set_autocommit(True)
    assert EmailMessage.objects.count() == 0  # the killed batch left nothing behind
    expire_lease(inbox)
    sync_mailbox(inbox.pk)
    assert EmailMessage.objects.count() == MESSAGES
    assert ActivityLink.objects.count() == MESSAGES
    assert EmailMessage.objects.values("message_id").distinct().count() == MESSAGES


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_fetch_holds_up_the_next_sync_for_its_lease_only(dovecot, owner):
    ContactFactory(owner=owner, emails=["zoe@client.example"])
    for i in range(MESSAGES):
        dovecot.deliver(big_message(i, message_id=i % 2 == 0))
    proxy = CuttingProxy(dovecot.host, dovecot.port)
    try:
        inbox = imap_mailbox(owner, dovecot, email=ME, config={"imap_port": proxy.port})
        proxy.stall_after = 150_000  # past the headers, inside the message bodies
        worker = start_worker(
            f"from mailboxes.sync.tasks import sync_mailbox; sync_mailbox({inbox.pk})"
        )
        try:
            deadline = time.monotonic() + 30
            while not proxy.stalled.wait(0.05):
                if worker.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"the worker never got stuck: {worker.stderr.read()}")
            assert f":{worker.pid}:" in SyncLease.objects.get(mailbox=inbox).holder
        finally:
            worker.send_signal(signal.SIGKILL)
            worker.wait(timeout=10)
        proxy.stall_after = None
        killed_at = timezone.now()

        # Right after the crash the dead worker's lease still runs: a sync says it waits...
        assert sync_task(inbox.pk) == 0
        left = SyncLease.objects.get(mailbox=inbox)
        assert left.waiting_since is not None and f":{worker.pid}:" in left.holder
        # ...for at most SYNC_LEASE, a minute, instead of the old lock's fifteen.
        assert left.expires_at <= killed_at + SYNC_LEASE
        assert EmailMessage.objects.count() == 0
        expire_lease(inbox)  # that minute, without waiting it out

        assert sync_task(inbox.pk) == MESSAGES
    finally:
        proxy.close()
    assert EmailMessage.objects.count() == MESSAGES
    assert ActivityLink.objects.count() == MESSAGES
    assert EmailMessage.objects.values("message_id").distinct().count() == MESSAGES
    assert SyncLease.objects.get(mailbox=inbox).holder == ""  # released at the end
    assert sync_task(inbox.pk) == 0  # nothing twice
    assert EmailMessage.objects.count() == MESSAGES


@pytest.mark.django_db(transaction=True)
def test_a_worker_that_lost_its_lease_writes_nothing(dovecot, owner):
    ContactFactory(owner=owner, emails=["zoe@client.example"])
    for i in range(3):
        dovecot.deliver(big_message(i))
    inbox = imap_mailbox(owner, dovecot, email=ME)
    slow = lease.acquire(inbox.pk)
    expire_lease(inbox)
    heir = lease.acquire(inbox.pk)
    with provider_for(inbox) as provider:
        (folder, *_) = ensure_folders(inbox, provider)
        with pytest.raises(lease.LeaseLost):
            sync_folder(inbox, provider, folder, slow)
    assert EmailMessage.objects.count() == 0
    assert FolderSync.objects.get(pk=folder.pk).cursor == ""
    heir.release()
    assert sync_mailbox(inbox.pk) == 3
