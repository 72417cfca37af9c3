"""Per-inbox sending limits shared by every worker: a minute and a day window in PostgreSQL.

Each window is one `SendCounter` row (inbox, "minute" or "day", window start). Taking a token is
one atomic upsert per window: insert the row with count 1, or add one to it only while it is
under the limit. The row lock that the upsert takes is held until the caller's transaction ends,
so two workers on two machines can never both take the last token of a window.

The caller takes the tokens in the same transaction that marks the email "sending" (see
`sending.py`): a worker that dies before that commit takes nothing, and one that dies after it
has used its token on an email that may have gone out, which is the safe way to count.

Windows are fixed, not rolling: a minute runs from :00 to :59 and a day from midnight to
midnight in the project's time zone (settings.TIME_ZONE). Providers' own limits are often
rolling 24 hours; an inbox's limits should be set a little under them.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache

from django.db import connection
from django.db.models import F
from django.utils import timezone

from mailboxes.models import Mailbox, SendCounter
from mailboxes.models.outbound import DAY, MINUTE, window_start


class OverLimit(Exception):
    """The inbox reached a limit; its mail waits until `retry_at`, the next window's start."""

    def __init__(self, window: str, limit: int, retry_at: datetime) -> None:
        super().__init__(window, limit, retry_at)
        self.window, self.limit, self.retry_at = window, limit, retry_at

    def describe(self) -> str:
        per = "a minute" if self.window == MINUTE else "a day"
        when = timezone.localtime(self.retry_at)
        at = when.strftime("%H:%M") if self.window == MINUTE else when.strftime("%Y-%m-%d %H:%M")
        return (
            f"Waiting for this inbox's sending limit ({self.limit} emails {per}); "
            f"it goes out from {at}."
        )


def next_window_start(window: str, now: datetime) -> datetime:
    """Return when the window after the one `now` falls in starts."""
    start = window_start(window, now)
    if window == MINUTE:
        return start + timedelta(minutes=1)
    # Midnight of the next calendar day, right across DST changes.
    following = timezone.localtime(start + timedelta(hours=26))
    return following.replace(hour=0, minute=0, second=0, microsecond=0)


def _upsert_sql(only_if: str = "") -> str:
    table = connection.ops.quote_name(SendCounter._meta.db_table)
    window = connection.ops.quote_name("window")
    condition = f" WHERE EXISTS (SELECT 1 FROM {only_if})" if only_if else ""
    # A fresh window starts at 1; an existing one grows only while under the limit. When the
    # WHERE fails nothing is returned, but the row stays locked until the transaction ends,
    # so the answer cannot go stale before the caller commits.
    return (
        f"INSERT INTO {table} (mailbox_id, {window}, starts_at, count) "
        f"SELECT %s, %s, %s, 1{condition} "
        f"ON CONFLICT (mailbox_id, {window}, starts_at) DO UPDATE SET count = {table}.count + 1 "
        f"WHERE {table}.count < %s RETURNING count"
    )


def limits(mailbox: Mailbox) -> tuple[tuple[str, int], ...]:
    return ((MINUTE, mailbox.send_per_minute), (DAY, mailbox.send_per_day))


def _params(mailbox: Mailbox, now: datetime) -> list[list]:
    for window, limit in limits(mailbox):
        if limit <= 0:
            raise OverLimit(window, limit, next_window_start(window, now))
    # Adapted as the ORM stores it (SQLite keeps datetimes as text in its own format).
    adapt = connection.ops.adapt_datetimefield_value
    return [[mailbox.pk, w, adapt(window_start(w, now)), limit] for w, limit in limits(mailbox)]


def token_ctes(mailbox: Mailbox, now: datetime, only_if: str = "") -> tuple[str, list]:
    """Return `minute AS (...), day AS (...)` and its parameters, for a WITH on PostgreSQL.

    Each CTE returns the window's new count, or no row when the window is full; with
    `only_if`, tokens are taken only when that CTE returned a row. Pass the counts to
    `check_counts`; when it refuses, roll the transaction back, or, after a statement that
    committed on its own, `give_back` the token of the other window. Raises OverLimit for a
    limit of 0.
    """
    minute, day = _params(mailbox, now)
    return _token_sql(only_if), minute + day


@cache
def _token_sql(only_if: str) -> str:
    # Built once: sending runs it for every email.
    return f"minute AS ({_upsert_sql(only_if)}), day AS ({_upsert_sql(only_if)})"


def check_counts(mailbox: Mailbox, now: datetime, counts) -> None:
    """Raise OverLimit for the first window whose token was refused (count None)."""
    for (window, limit), count in zip(limits(mailbox), counts, strict=True):
        if count is None:
            raise OverLimit(window, limit, next_window_start(window, now))


def give_back(mailbox: Mailbox, now: datetime, counts) -> None:
    """Return the tokens a refused `token_ctes` statement did take (count not None)."""
    for (window, _), count in zip(limits(mailbox), counts, strict=True):
        if count is not None:
            SendCounter.objects.filter(
                mailbox=mailbox, window=window, starts_at=window_start(window, now)
            ).update(count=F("count") - 1)


def take(mailbox: Mailbox, now: datetime | None = None) -> None:
    """Take one token from each of the inbox's windows, or raise OverLimit.

    Call inside a transaction (`transaction.atomic`) and let OverLimit roll it back: the minute
    token taken before the day limit refused must not count. A limit of 0 pauses the inbox's
    sending until it is raised (mail waits, queued).
    """
    if not connection.in_atomic_block:
        raise RuntimeError("throttle.take() must run inside the caller's transaction")
    now = now or timezone.now()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Both windows in one statement: one round trip per email sent.
            ctes, params = token_ctes(mailbox, now)
            cursor.execute(
                f"WITH {ctes} SELECT (SELECT count FROM minute), (SELECT count FROM day)", params
            )
            counts = cursor.fetchone()
        else:  # SQLite (the embedded setup) has no INSERT inside WITH
            counts = []
            for values in _params(mailbox, now):
                cursor.execute(_upsert_sql(), values)
                row = cursor.fetchone()
                counts.append(row[0] if row else None)
    check_counts(mailbox, now, counts)


def used(mailbox: Mailbox, now: datetime | None = None) -> dict[str, int]:
    """Return the tokens taken in the current minute and day windows (for pages and tests)."""
    return SendCounter.objects.used_by([mailbox.pk], now)[mailbox.pk]


def forget_old(now: datetime | None = None, keep_days: int = 2) -> int:
    """Delete counters of windows that ended more than `keep_days` ago; return how many."""
    now = now or timezone.now()
    deleted, _ = SendCounter.objects.filter(starts_at__lt=now - timedelta(days=keep_days)).delete()
    return deleted
