"""Per-inbox sending limits shared by every worker: a minute and a day window in PostgreSQL.

The minute window counts emails and the day window recipients (every envelope address, Bcc
too): an email to three people takes one of the minute's tokens and three of the day's.
Providers cap both ways (Exchange Online: 30 emails a minute, 10,000 recipients a day; Google:
emails a day, and recipients too for Workspace), and counting recipients a day keeps under a
cap on emails as well, each email having at least one; connecting/caps.py lists the caps.

Each window is one `SendCounter` row (inbox, "minute" or "day", window start). Taking tokens is
one atomic upsert per window: insert the row with the send's count, or add it only while the
total stays within the limit. The row lock that the upsert takes is held until the caller's
transaction ends, so two workers on two machines can never both take the last token of a
window.

The caller takes the tokens in the same transaction that marks the email "sending" (see
`sending.py`): a worker that dies before that commit takes nothing, and one that dies after it
has used its token on an email that may have gone out, which is the safe way to count.

Windows are fixed, not rolling: a minute runs from :00 to :59 and a day from midnight to
midnight in the project's time zone (settings.TIME_ZONE). Providers' own limits are often
rolling 24 hours; an inbox's limits should be set a little under them.

A send counts in the window it lands in. A limit is about when mail reaches the server, which
counts a message when its DATA completes, not when a worker decided to send it; and a worker
takes its tokens before the message goes out, sometimes behind another one on the wire. So:

- While in flight, a send holds a token of every window it may land in: those that the span
  from its hand-over to `margin` seconds later touches (`tokens_for`). One minute and one day
  mostly; in the last `margin` seconds of a minute the next minute too (and before midnight
  the next day: a day ends at a minute boundary, every time zone's offset being whole
  minutes). The caller (sending.py) picks the margin to cover the wait behind the send on the
  wire plus the send itself.
- Just before the bytes go out, the caller checks that the send can still land before
  `Tokens.until`, the end of the last minute it holds; when it cannot (the send ahead of it
  took far longer than before), it sends nothing and gives the tokens back (`give_back`).
- Once the server has answered, the send keeps the tokens of the windows it may have landed in,
  between the moment its bytes started and the answer (`settle`): a message handed over at
  12:00:59.7 that went out and was answered before 12:01 gives its 12:01 token back, one that
  went out at 12:00:59.9 and was answered at 12:01:00.1 keeps both. A window it may have
  landed in but held no token of (the server itself stalled past `until`) counts it then,
  over the limit if need be: the count stays true and the window gives out one token fewer,
  though a worker that took its last token meanwhile has then sent one too many.

Some sources have a minute limit of their own on top of the inbox's (`SOURCE_MINUTE_LIMITS`):
sequence email goes out at most 3 a minute per inbox (a product rule: bulk enrollments must
not flood an inbox). It is one more window of the same kind, a `SendCounter` row per inbox
and minute named by the source (`source_window`), taken in the same statement as the others
by the rows of that source only, so one-to-one mail of the inbox never waits for it.

Only sends in a minute's last seconds cost a second statement (the tokens given back); pausing
there instead would idle every worker of every inbox at every minute's end, limits binding or
not. The worker's clock and the server's are taken to agree to well under a second (NTP).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from django.db import connection
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from mailboxes.constants import SendSource
from mailboxes.models import Mailbox, SendCounter
from mailboxes.models.outbound import DAY, MINUTE, window_start

ONE_MINUTE = timedelta(minutes=1)

# Emails a minute per inbox for mail of these sources, beside the inbox's own limits. Here,
# not registered by the app that queues them: the outbox applies it to every row of that
# source in every sending process, whichever apps that process started.
SOURCE_MINUTE_LIMITS = {SendSource.SEQUENCE: 3}
# The name of a source's minute window in SendCounter.window (six characters at most).
_SOURCE_WINDOWS = {SendSource.SEQUENCE: "seq"}
_WINDOW_SOURCES = {name: source for source, name in _SOURCE_WINDOWS.items()}


def source_window(source: str) -> str | None:
    """The window of a source's own minute limit, or None when it has none."""
    return _SOURCE_WINDOWS.get(source) if source in SOURCE_MINUTE_LIMITS else None


def per_minute(window: str) -> bool:
    """Whether `window` is a minute window (the inbox's or a source's)."""
    return window != DAY


class OverLimit(Exception):
    """The inbox reached a limit; its mail waits until `retry_at`, the next window's start."""

    def __init__(self, window: str, limit: int, retry_at: datetime) -> None:
        super().__init__(window, limit, retry_at)
        self.window, self.limit, self.retry_at = window, limit, retry_at

    @property
    def source(self) -> str | None:
        """The source whose own limit this is (None: the inbox's, binding all its mail)."""
        return _WINDOW_SOURCES.get(self.window)

    def describe(self) -> str:
        """Why the email waits, for its last error (in the account's language)."""
        when = timezone.localtime(self.retry_at)
        at = when.strftime("%H:%M") if per_minute(self.window) else when.strftime("%Y-%m-%d %H:%M")
        values = {"n": self.limit, "time": at}
        if self.source is not None:
            kind = str(SendSource(self.source).label).lower()
            return _(
                "Queued: waiting for the %(n)s a minute %(source)s limit; it goes out from "
                "%(time)s."
            ) % {**values, "source": kind}
        if self.window == MINUTE:
            return (
                _(
                    "Waiting for this inbox's sending limit (%(n)s emails a minute); it goes out "
                    "from %(time)s."
                )
                % values
            )
        return (
            _(
                "Waiting for this inbox's sending limit (%(n)s recipients a day); it goes out from "
                "%(time)s."
            )
            % values
        )


def next_window_start(window: str, now: datetime) -> datetime:
    """Return when the window after the one `now` falls in starts."""
    if per_minute(window):
        return window_start(MINUTE, now) + ONE_MINUTE
    start = window_start(window, now)
    # Midnight of the next calendar day, right across DST changes.
    following = timezone.localtime(start + timedelta(hours=26), timezone.get_default_timezone())
    return following.replace(hour=0, minute=0, second=0, microsecond=0)


@dataclass(frozen=True)
class Tokens:
    """The windows one send takes tokens from, the inbox's minute, its day, then its source's
    minute: (window, start, limit, tokens) each, tokens being 1 in a minute and the recipients
    in a day."""

    mailbox_id: int
    windows: tuple[tuple[str, datetime, int, int], ...]
    # The end of the last minute held: the send must land before it.
    until: datetime

    def weight(self, window: str) -> int:
        return next(n for w, _start, _limit, n in self.windows if w == window)


def limits(mailbox: Mailbox, source: str | None = None) -> tuple[tuple[str, int], ...]:
    """The inbox's windows and limits, and the source's own minute window when it has one."""
    own = ((MINUTE, mailbox.send_per_minute), (DAY, mailbox.send_per_day))
    window = source_window(source) if source else None
    return own + ((window, SOURCE_MINUTE_LIMITS[source]),) if window else own


def tokens_for(
    mailbox: Mailbox,
    now: datetime,
    margin: float = 0.0,
    recipients: int = 1,
    source: str | None = None,
) -> Tokens:
    """Return the windows of a send to `recipients` addresses handed over at `now` that lands
    within `margin` seconds (under a minute): those of `now` and, when later, those of
    `now + margin`; with the `source`'s own minute windows when it has a limit.

    Raises OverLimit for a limit of 0, which pauses the inbox's sending until it is raised.
    An email to more recipients than the day's limit takes the whole of a day, so it still
    goes out (alone that day) instead of waiting for ever.
    """
    for window, limit in limits(mailbox, source):
        if limit <= 0:
            raise OverLimit(window, limit, next_window_start(window, now))
    minute = window_start(MINUTE, now)
    last = now + timedelta(seconds=margin)
    moments = (now,) if last < minute + ONE_MINUTE else (now, last)
    windows = []
    for window, limit in limits(mailbox, source):
        weight = 1 if per_minute(window) else min(max(recipients, 1), limit)
        kind = MINUTE if per_minute(window) else DAY
        starts = dict.fromkeys(window_start(kind, moment) for moment in moments)
        windows += [(window, start, limit, weight) for start in starts]
    return Tokens(mailbox.pk, tuple(windows), window_start(MINUTE, last) + ONE_MINUTE)


def _upsert_sql(only_if: str = "", bounded: bool = True) -> str:
    table = connection.ops.quote_name(SendCounter._meta.db_table)
    window = connection.ops.quote_name("window")
    condition = f" WHERE EXISTS (SELECT 1 FROM {only_if})" if only_if else ""
    # A fresh window starts at the send's tokens (never more than the limit: tokens_for); an
    # existing one grows only while it stays within the limit. When the WHERE fails nothing
    # is returned, but the row stays locked until the transaction ends, so the answer cannot
    # go stale before the caller commits.
    within = f" WHERE {table}.count + EXCLUDED.count <= %s" if bounded else ""
    return (
        f"INSERT INTO {table} (mailbox_id, {window}, starts_at, count) "
        f"SELECT %s, %s, %s, %s{condition} "
        f"ON CONFLICT (mailbox_id, {window}, starts_at) DO UPDATE "
        f"SET count = {table}.count + EXCLUDED.count{within} RETURNING count"
    )


def _params(tokens: Tokens) -> list[list]:
    # Adapted as the ORM stores it (SQLite keeps datetimes as text in its own format).
    adapt = connection.ops.adapt_datetimefield_value
    return [[tokens.mailbox_id, w, adapt(start), n, limit] for w, start, limit, n in tokens.windows]


def token_ctes(tokens: Tokens, only_if: str = "") -> tuple[str, str, list]:
    """Return `minute0 AS (...), day0 AS (...)` (one CTE per window), the select list of their
    counts, and the parameters, for a WITH on PostgreSQL.

    Each CTE returns the window's new count, or no row when the window is full; with
    `only_if`, tokens are taken only when that CTE returned a row. Pass the counts to
    `check_counts`; when it refuses, roll the transaction back, or, after a statement that
    committed on its own, `give_back` the tokens it did take.
    """
    names = tuple(window for window, *_rest in tokens.windows)
    ctes, counts = _token_sql(only_if, names)
    return ctes, counts, [value for values in _params(tokens) for value in values]


@cache
def _token_sql(only_if: str, windows: tuple[str, ...]) -> tuple[str, str]:
    # Built once per shape: sending runs it for every email.
    names = [f"{window}{windows[:n].count(window)}" for n, window in enumerate(windows)]
    ctes = ", ".join(f"{name} AS ({_upsert_sql(only_if)})" for name in names)
    return ctes, ", ".join(f"(SELECT count FROM {name})" for name in names)


def check_counts(tokens: Tokens, counts) -> None:
    """Raise OverLimit for the first window whose token was refused (count None): the mail
    waits until the window after it."""
    for (window, start, limit, _weight), count in zip(tokens.windows, counts, strict=True):
        if count is None:
            raise OverLimit(window, limit, next_window_start(window, start))


def give_back(tokens: Tokens, counts=None) -> None:
    """Return the tokens taken: all of them, or those a refused `token_ctes` statement did
    take (count not None)."""
    counts = counts if counts is not None else [1] * len(tokens.windows)
    for (window, start, _limit, weight), count in zip(tokens.windows, counts, strict=True):
        if count is not None:
            SendCounter.objects.filter(
                mailbox_id=tokens.mailbox_id, window=window, starts_at=start
            ).update(count=F("count") - weight)


def settle(tokens: Tokens, first: datetime, last: datetime) -> None:
    """Keep only the tokens of the windows an accepted send may have landed in, between
    `first` (its bytes started) and `last` (the server's answer): give the others back, and
    count it in any of those it held no token of, over the limit if need be (it went out)."""
    minutes = [w for w in dict.fromkeys(w for w, *_rest in tokens.windows) if per_minute(w)]
    if len(tokens.windows) == len(minutes) + 1 and last < tokens.until:
        return  # one window of each kind held, landed in them: most sends
    landed = {(DAY, window_start(DAY, first)), (DAY, window_start(DAY, last))}
    minute = window_start(MINUTE, first)
    while minute <= last:
        landed.update((window, minute) for window in minutes)
        minute += ONE_MINUTE
    held = {(window, start) for window, start, *_rest in tokens.windows}
    for window, start in held - landed:
        SendCounter.objects.filter(
            mailbox_id=tokens.mailbox_id, window=window, starts_at=start
        ).update(count=F("count") - tokens.weight(window))
    adapt = connection.ops.adapt_datetimefield_value
    for window, start in landed - held:
        with connection.cursor() as cursor:
            params = [tokens.mailbox_id, window, adapt(start), tokens.weight(window)]
            cursor.execute(_upsert_sql(bounded=False), params)


def take(
    mailbox: Mailbox,
    now: datetime | None = None,
    margin: float = 0.0,
    recipients: int = 1,
    source: str | None = None,
) -> Tokens:
    """Take the tokens of a send to `recipients` addresses handed over at `now` from each of
    its windows (see `tokens_for`), or raise OverLimit; return what was taken.

    Call inside a transaction (`transaction.atomic`) and let OverLimit roll it back: the minute
    token taken before the day limit refused must not count. A limit of 0 pauses the inbox's
    sending until it is raised (mail waits, queued).
    """
    if not connection.in_atomic_block:
        raise RuntimeError("throttle.take() must run inside the caller's transaction")
    tokens = tokens_for(mailbox, now or timezone.now(), margin, recipients, source)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Every window in one statement: one round trip per email sent.
            ctes, counts, params = token_ctes(tokens)
            cursor.execute(f"WITH {ctes} SELECT {counts}", params)
            counts = cursor.fetchone()
        else:  # SQLite (the embedded setup) has no INSERT inside WITH
            counts = []
            for values in _params(tokens):
                cursor.execute(_upsert_sql(), values)
                row = cursor.fetchone()
                counts.append(row[0] if row else None)
    check_counts(tokens, counts)
    return tokens


def used(mailbox: Mailbox, now: datetime | None = None) -> dict[str, int]:
    """Return the tokens taken in the current minute and day windows (for pages and tests)."""
    return SendCounter.objects.used_by([mailbox.pk], now)[mailbox.pk]


def forget_old(now: datetime | None = None, keep_days: int = 2) -> int:
    """Delete counters of windows that ended more than `keep_days` ago; return how many."""
    now = now or timezone.now()
    deleted, _kinds = SendCounter.objects.filter(
        starts_at__lt=now - timedelta(days=keep_days)
    ).delete()
    return deleted
