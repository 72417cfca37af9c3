"""Click links of an email deleted from the CRM stop redirecting.

A click token names the email it belongs to (tokens.py signs the message id together with the
link and its URL), so the endpoint can refuse the links of a deleted email without looking the
link up:

- When a tracked email is deleted from the CRM (the timeline's "Delete", or any other deletion
  of its row: the receiver below fires on its tracking rollup, which every tracked email has),
  its id is written to `DeletedTrackedEmail` in the deleting transaction: the record that
  lasts. Once that commits, the id goes into a Redis set beside the tracking stream and the
  set's version is bumped.
- With Redis, each web process keeps a copy of the set and asks Redis at most once every
  REFRESH_SECONDS whether its version moved and the set is whole (one round trip; the members
  are read again only when it moved). So a click costs a set lookup in memory: no database
  query and no Redis round trip on the hot path. The process that deleted the email knows at
  once; the others within REFRESH_SECONDS. Measured with `make bench ONLY=tracking_click`
  (gunicorn sync x2, wrk -c16) on a 2-core machine: one SMISMEMBER a click instead put the
  endpoint at 70-76% of the bare view's rate (target 80%); the copy keeps it at 96-101%, as
  before (92-99%).
- A set missing its SENTINEL member (Redis restarted without its data) is rebuilt from the
  table by the first process that finds it so, and `verify()` (run with every tracking_flush,
  every 5 s) rebuilds one that lost members some other way. While Redis cannot be reached the
  endpoint asks the table, so a deleted email's link never redirects for want of Redis.
- Without Redis (the embedded `make run` mode, where the request writes the hit to the
  database anyway) the endpoint asks the database whether the email still exists, which also
  covers emails deleted before this table existed.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from datetime import timedelta

from django.core.signals import setting_changed
from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver
from django.utils import timezone

from mailboxes.models import DeletedTrackedEmail, EmailMessage, TrackingRollup
from mailboxes.tracking.buffer import buffer_mode, redis_client, stream_key

logger = logging.getLogger(__name__)

# How stale a web process's copy of the set may be (see the module's docstring).
REFRESH_SECONDS = 1.0
# Never a message id (ids start at 1): marks a set built from the table.
SENTINEL = 0
_LOAD_BATCH = 10_000


def deleted_key() -> str:
    """The Redis set of deleted tracked emails, beside (and named after) the event stream."""
    return f"{stream_key()}:deleted"


def _version_key(key: str) -> str:
    return f"{key}:version"


class _Copy:
    """This process's copy of the Redis set of one key."""

    def __init__(self, key: str = ""):
        self.key = key
        self.ids: frozenset[int] = frozenset()
        self.version: bytes | None = None
        self.checked = float("-inf")  # time.monotonic() of the last refresh
        self.usable = False  # False until a refresh succeeds, and while Redis fails


_copy = _Copy()
_refreshing = threading.Lock()


@receiver(setting_changed)
def _settings_changed(**kwargs):
    global _copy
    _copy = _Copy()


def is_deleted(message_id: int) -> bool:
    """Whether the tracked email `message_id` was deleted from the CRM (its links are dead).

    With Redis: a lookup in this process's copy, refreshed when due; the table only while
    Redis cannot be reached.
    """
    if buffer_mode() != "redis":
        return not EmailMessage.objects.filter(pk=message_id).exists()
    copy = _copy  # (a changed setting, in tests, resets it: _settings_changed)
    if time.monotonic() - copy.checked >= REFRESH_SECONDS:
        copy = refresh()
    if copy.usable:
        return message_id in copy.ids
    return DeletedTrackedEmail.objects.filter(pk=message_id).exists()


def refresh() -> _Copy:
    """Bring this process's copy up to date now (the click endpoint calls it when due)."""
    global _copy
    key = deleted_key()
    if not _refreshing.acquire(blocking=False):
        return _copy  # another thread of this process is at it: use what there is
    try:
        copy = _copy if _copy.key == key else _Copy(key)
        try:
            client = redis_client()
            pipe = client.pipeline(transaction=False)
            pipe.get(_version_key(key))
            pipe.sismember(key, SENTINEL)
            version, complete = pipe.execute()
            if not complete:
                rebuild()
            if not complete or version is None or version != copy.version or not copy.usable:
                version, members = _read(client, key)
                copy.ids = frozenset(int(m) for m in members) - {SENTINEL}
                copy.version = version
            copy.usable = True
        except Exception:
            logger.warning("tracking: Redis unreachable, asking the database", exc_info=True)
            copy.usable = False
        copy.checked = time.monotonic()
        _copy = copy
        return copy
    finally:
        _refreshing.release()


def _read(client, key: str) -> tuple[bytes | None, set[bytes]]:
    pipe = client.pipeline(transaction=True)
    pipe.get(_version_key(key))
    pipe.smembers(key)
    version, members = pipe.execute()
    return version, members


def rebuild() -> None:
    """Build the Redis set afresh from the table and put it in place of the old one."""
    client, key = redis_client(), deleted_key()
    building = f"{key}:building:{uuid.uuid4().hex}"
    started = timezone.now()
    ids = DeletedTrackedEmail.objects.order_by().values_list("pk", flat=True)
    batch: list[int] = [SENTINEL]
    for message_id in ids.iterator(chunk_size=_LOAD_BATCH):
        batch.append(message_id)
        if len(batch) >= _LOAD_BATCH:
            client.sadd(building, *batch)
            batch = []
    if batch:
        client.sadd(building, *batch)
    pipe = client.pipeline(transaction=True)
    pipe.rename(building, key)
    pipe.incr(_version_key(key))
    pipe.execute()
    # Deletions committed while the table was read went to the old set: add them again.
    recent = list(
        DeletedTrackedEmail.objects.filter(deleted_at__gte=started - timedelta(minutes=1))
        .order_by()
        .values_list("pk", flat=True)
    )
    if recent:
        _add(client, key, recent)


def verify() -> bool:
    """Rebuild the Redis set unless it holds as many ids as the table; say whether it did.

    Run with every tracking_flush (a count and an SCARD), so a set that lost members in a way
    `_publish` could not see is whole again within seconds.
    """
    if buffer_mode() != "redis":
        return False
    if redis_client().scard(deleted_key()) == DeletedTrackedEmail.objects.count() + 1:
        return False
    rebuild()
    return True


def mark_deleted(message_ids: list[int]) -> None:
    """Record tracked emails as deleted: in the table now, in Redis once this commits."""
    if not message_ids:
        return
    DeletedTrackedEmail.objects.bulk_create(
        [DeletedTrackedEmail(message_id=m) for m in message_ids], ignore_conflicts=True
    )
    if buffer_mode() == "redis":
        transaction.on_commit(lambda: _publish(list(message_ids)))


def _add(client, key: str, message_ids: list[int]) -> None:
    pipe = client.pipeline(transaction=True)
    pipe.sadd(key, *message_ids)
    pipe.incr(_version_key(key))
    pipe.execute()


def _publish(message_ids: list[int]) -> None:
    key = deleted_key()
    copy = _copy
    if copy.key == key:
        copy.ids = copy.ids | set(message_ids)  # this process knows at once
    client = redis_client()
    try:
        _add(client, key, message_ids)
    except Exception:
        logger.warning("tracking: could not add deleted emails to Redis", exc_info=True)
        try:
            # Incomplete now: the next process to refresh rebuilds it from the table.
            pipe = client.pipeline(transaction=True)
            pipe.srem(key, SENTINEL)
            pipe.incr(_version_key(key))
            pipe.execute()
        except Exception:
            logger.error(
                "tracking: the Redis set %s may miss deleted emails %s until the next "
                "tracking_flush rebuilds it",
                key,
                message_ids,
            )


@receiver(post_delete, sender=TrackingRollup, dispatch_uid="tracking-deleted-email")
def _tracked_email_deleted(sender, instance, **kwargs):
    # Every tracked email has a rollup (instrument() creates it), deleted with the email.
    mark_deleted([instance.message_id])
