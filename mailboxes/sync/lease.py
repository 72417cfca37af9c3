"""One sync of an inbox at a time, across every process, and never stalled by a dead one.

A sync (or reconciliation) of an inbox holds its `SyncLease` row: `acquire` takes it with
one conditional UPDATE when it is free or its lease ran out, so two workers never both get
it, on PostgreSQL or SQLite (the embedded setup's web, worker and beat are separate
processes, and its cache is per process). While the holder runs, a thread of its own extends
the lease every RENEW_EVERY; a killed worker stops extending it, and another takes over at
most SYNC_LEASE later. A holder that was slow to renew and lost the lease finds out in the
same transaction that would write its next page (`Lease.confirm`), which rolls that page back:
only the current holder writes.

Times are the workers' clocks, as for the sending queue's leases: skew between hosts far
below SYNC_LEASE only shortens or lengthens the wait after a crash by as much.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from datetime import timedelta

from django.db import DatabaseError, connection
from django.db.models import Q
from django.utils import timezone

from mailboxes.models import SyncLease

log = logging.getLogger(__name__)

# How long a lease lasts without renewal: a crashed worker's inbox syncs again within this.
SYNC_LEASE = timedelta(seconds=60)
# Three chances to renew before the lease runs out, should the database be slow to answer.
RENEW_EVERY = SYNC_LEASE / 3


class LeaseLost(Exception):
    """Another worker took over this inbox's sync: stop, write nothing more."""


def holder_name() -> str:
    """host:pid:random, unique to one acquisition; host and pid tell people which worker."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


class Lease:
    """A held lease: use it as a context manager to keep it alive and release it at the end."""

    def __init__(self, mailbox_id: int, holder: str, renew_every: timedelta = RENEW_EVERY):
        self.mailbox_id = mailbox_id
        self.holder = holder
        self.renew_every = renew_every
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None

    def _mine(self):
        return SyncLease.objects.filter(mailbox_id=self.mailbox_id, holder=self.holder)

    def renew(self) -> bool:
        """Extend the lease if it is still ours; False once another worker has taken it."""
        return bool(self._mine().update(expires_at=timezone.now() + SYNC_LEASE))

    def confirm(self) -> None:
        """Inside a write transaction: renew, or raise LeaseLost so the transaction rolls back.

        Called last before the commit, so the lease row stays locked for a moment only.
        """
        if not self.renew():
            raise LeaseLost(f"the sync of mailbox {self.mailbox_id} was taken over")

    def release(self) -> None:
        self._mine().update(holder="", expires_at=None, waiting_since=None)

    def _keep_alive(self) -> None:
        try:
            while not self._stop.wait(self.renew_every.total_seconds()):
                try:
                    if not self.renew():
                        return  # taken over: the sync finds out at its next write
                except DatabaseError as exc:
                    log.warning("renewing the sync lease of mailbox %s: %r", self.mailbox_id, exc)
        finally:
            connection.close()  # this thread's own connection

    def __enter__(self) -> Lease:
        self._beat = threading.Thread(
            target=self._keep_alive, name=f"sync-lease-{self.mailbox_id}", daemon=True
        )
        self._beat.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._beat.join()
        self.release()


def acquire(mailbox_id: int, renew_every: timedelta = RENEW_EVERY) -> Lease | None:
    """Take the inbox's sync lease, or note that a sync waited and return None."""
    SyncLease.objects.get_or_create(mailbox_id=mailbox_id)
    now = timezone.now()
    holder = holder_name()
    free = Q(holder="") | Q(expires_at__isnull=True) | Q(expires_at__lte=now)
    taken = SyncLease.objects.filter(free, mailbox_id=mailbox_id).update(
        holder=holder, acquired_at=now, expires_at=now + SYNC_LEASE, waiting_since=None
    )
    if taken:
        return Lease(mailbox_id, holder, renew_every)
    SyncLease.objects.filter(mailbox_id=mailbox_id, waiting_since__isnull=True).exclude(
        holder=""
    ).update(waiting_since=now)
    return None
