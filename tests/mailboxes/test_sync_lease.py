"""The sync lease: one sync of an inbox at a time, taken over once its holder stops renewing
it, and shown on the Email page when a sync waits for it."""

import os
import socket
import time
from datetime import timedelta
from html import unescape

import pytest
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from mailboxes.models import SyncLease
from mailboxes.sync import engine, lease
from tests.mailboxes.inboxes import offline_mailbox

pytestmark = pytest.mark.django_db


@pytest.fixture
def box(owner):
    return offline_mailbox(owner)


def row(box) -> SyncLease:
    return SyncLease.objects.get(mailbox=box)


def expire(box) -> None:
    """What SYNC_LEASE without a renewal does: the lease runs out."""
    SyncLease.objects.filter(mailbox=box).update(expires_at=timezone.now() - timedelta(seconds=1))


def hhmm(moment) -> str:
    return timezone.localtime(moment).strftime("%H:%M")  # the owner's time zone is UTC


def test_one_holder_at_a_time_and_a_sync_turned_away_is_noted(box):
    first = lease.acquire(box.pk)
    assert first is not None
    held = row(box)
    assert held.holder == first.holder
    assert (held.holder_host, held.holder_pid) == (socket.gethostname(), str(os.getpid()))
    assert held.expires_at - held.acquired_at == lease.SYNC_LEASE
    assert held.waiting_since is None

    assert lease.acquire(box.pk) is None
    assert row(box).waiting_since is not None

    first.release()
    assert row(box).holder == ""
    second = lease.acquire(box.pk)
    assert second is not None and second.holder != first.holder
    assert row(box).waiting_since is None


def test_renewing_extends_the_lease_of_its_holder_only(box):
    held = lease.acquire(box.pk)
    expire(box)
    assert held.renew()  # expired but not taken: still its own
    assert row(box).expires_at > timezone.now() + lease.SYNC_LEASE - timedelta(seconds=5)
    assert lease.acquire(box.pk) is None


def test_an_expired_lease_is_taken_over_and_its_old_holder_may_not_write(box):
    dead = lease.acquire(box.pk)
    expire(box)
    heir = lease.acquire(box.pk)
    assert heir is not None and row(box).holder == heir.holder

    assert not dead.renew()
    with pytest.raises(lease.LeaseLost), transaction.atomic():
        dead.confirm()
    dead.release()  # releases nothing of the heir's
    assert row(box).holder == heir.holder
    heir.confirm()


@pytest.mark.django_db(transaction=True)
def test_a_running_holder_keeps_its_lease_alive_and_frees_it_at_the_end(box):
    held = lease.acquire(box.pk, renew_every=timedelta(seconds=0.05))
    with held:
        expire(box)  # as if the sync had run for SYNC_LEASE
        deadline = time.monotonic() + 10
        while row(box).expired and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not row(box).expired  # renewed by the holder's own thread
        assert lease.acquire(box.pk) is None
    assert row(box).holder == ""
    assert lease.acquire(box.pk) is not None


def test_a_sync_or_reconciliation_while_another_holds_the_lease_returns_at_once(box):
    held = lease.acquire(box.pk)
    # The inbox's server is unreachable: a sync that got past the lease would record an error.
    assert engine.sync_mailbox(box.pk) == 0
    assert engine.reconcile_mailbox(box.pk) == 0
    assert not box.folders.exists()
    assert row(box).holder == held.holder


def test_the_email_page_says_a_sync_waits_for_another_worker_and_until_when(client, owner, box):
    client.force_login(owner)
    held = lease.acquire(box.pk)
    host, pid = socket.gethostname(), os.getpid()

    text = unescape(client.get(reverse("mailboxes:settings")).content.decode())
    since = hhmm(row(box).acquired_at)
    assert f"Syncing now: a worker ({host} pid {pid}) since {since}." in text

    engine.sync_mailbox(box.pk)  # turned away
    text = unescape(client.get(reverse("mailboxes:settings")).content.decode())
    assert (
        f"Waiting: another worker ({host} pid {pid}) has been syncing this inbox since {since}; "
        f"if it stopped, its lock expires at {hhmm(row(box).expires_at)}."
    ) in text

    expire(box)
    text = unescape(client.get(reverse("mailboxes:settings")).content.decode())
    assert (
        f"A worker ({host} pid {pid}) was syncing this inbox since {since} and stopped "
        f"renewing its lock at {hhmm(row(box).expires_at)}: the next sync takes over."
    ) in text

    held.release()
    text = unescape(client.get(reverse("mailboxes:settings")).content.decode())
    assert "Waiting:" not in text and "Syncing now" not in text and f"pid {pid}" not in text
