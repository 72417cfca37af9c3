"""Record open and click hits: classify them and store events and rollups in batches.

`instrument()` rewrites every http(s) link of an email about to be queued into a signed click
URL (one TrackedLink row per link) and appends a signed 1x1 open pixel. The endpoints
(`views.py`) verify the token, hand the hit to `record_event()` and answer at once,
without a database query.

Where hits go. With Redis (TRACKING_BUFFER "redis", the default when REDIS_URL is set) a hit
is appended to its web process's buffer, which a background thread pushes to a Redis stream
every PUSH_SECONDS as one entry; `flush_events()` (a periodic task) classifies and writes the
stream in batches (COPY for the events, one UPDATE for the rollups), advancing a cursor row in
the same transaction, so a flush that dies is neither lost nor repeated. Without Redis (the
embedded `make run` setup) the hit is classified and written by the request. Measured with
`make bench` (tracking_open / tracking_click, gunicorn sync x2, wrk -c16), against a bare view
answering the same bytes: written by the request, ~6% of the bare view's rate (a classified
transaction a hit); one redis-py XADD a request, ~40%; the process buffer, at par within noise.

Classification (`classify()`) is a pure function over the hit, the message's send time and
its recent clicks, so every rule is table-tested; the rules, each with why, are listed above
it. Only "human" hits count in timelines and reports; the others are kept, with a
detail, so a rep can still see what happened to the email.

A hit never has a side effect beyond its event row and the rollup: nothing here unsubscribes
anyone or ends a sequence, and the privacy app's preference links are never rewritten, so a
scanner that follows every link in an email only ever reaches the pages it would anyway.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta

from django.db import connection, transaction
from django.db.models.functions import Coalesce

from mailboxes import signals
from mailboxes.models import (
    EmailMessage,
    TrackedLink,
    TrackingCursor,
    TrackingEvent,
    TrackingKind,
    TrackingReason,
    TrackingRollup,
)
from mailboxes.reports import rollups as report_rollups
from mailboxes.tracking.buffer import (
    ENTRIES_READ,
    buffer_mode,
    process_buffer,
    redis_client,
    stream_key,
)
from mailboxes.tracking.classify import BURST_SECONDS, Hit, classify

USER_AGENT_MAX = TrackingEvent._meta.get_field("user_agent").max_length
_OPENING = (TrackingReason.HUMAN, TrackingReason.PRIVACY_PROXY)
logger = logging.getLogger(__name__)


def push_buffered() -> int:
    """Push this process's waiting hits to Redis now (tests, the benchmark); return how many."""
    return process_buffer.push()


def record_event(
    kind: str,
    message_id: int,
    *,
    link_id: int | None = None,
    ip: str | None = None,
    user_agent: str = "",
    at: datetime | None = None,
) -> None:
    """Record one verified hit: buffered for the next batch, or written now without Redis.

    The caller has verified the token; this records, it never acts on the hit.
    """
    user_agent = user_agent[:USER_AGENT_MAX]
    if buffer_mode() == "redis":
        # One line a hit; the user agent goes last, so it may hold the separator.
        stamp = at.timestamp() if at else time.time()
        agent = user_agent.replace("\n", " ").replace("\r", " ")
        address = (ip or "").replace("\t", "")[:45]
        process_buffer.add(
            f"{kind[0]}\t{message_id}\t{link_id or 0}\t{stamp:.6f}\t{address}\t{agent}"
        )
        return
    hit = Hit(
        kind=kind,
        message_id=message_id,
        at=at or datetime.now(UTC),
        link_id=link_id,
        ip=_valid_ip(ip),
        user_agent=user_agent,
    )
    with transaction.atomic():
        write_events([hit])


def _valid_ip(value: str | None) -> str | None:
    # Checked here, in the flush, not on the request path; one bad value must not fail a COPY.
    if not value:
        return None
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def _from_entry(data: bytes) -> list[Hit]:
    hits = []
    for line in data.decode("utf-8", "replace").split("\n"):
        try:
            kind, message_id, link_id, stamp, ip, agent = line.split("\t", 5)
            hits.append(
                Hit(
                    kind=TrackingKind.OPEN if kind == "o" else TrackingKind.CLICK,
                    message_id=int(message_id),
                    link_id=int(link_id) or None,
                    at=datetime.fromtimestamp(float(stamp), UTC),
                    ip=_valid_ip(ip),
                    user_agent=agent,
                )
            )
        except ValueError:
            # Skipped, not retried: a line that cannot be read would stop every later flush.
            logger.error("tracking: unreadable buffered hit %r", line[:200])
    return hits


def flush_events(batch_size: int = 1000, max_batches: int | None = None) -> int:
    """Write the buffered hits to the database in batches; return how many were written.

    Run it every few seconds (a periodic task). Idempotent and safe from several workers at
    once: the cursor row is locked for the batch and advanced in the same transaction as the
    events, so each stream entry is written exactly once; the stream is trimmed only after
    the commit. A batch is whole stream entries adding up to about `batch_size` hits.
    """
    if buffer_mode() != "redis":
        return 0
    client, key = redis_client(), stream_key()
    total = batches = 0
    while max_batches is None or batches < max_batches:
        with transaction.atomic():
            TrackingCursor.objects.get_or_create(stream=key)
            cursor = TrackingCursor.objects.select_for_update().get(stream=key)
            entries = client.xrange(key, min=f"({cursor.last_id}", max="+", count=ENTRIES_READ)
            if not entries:
                break
            hits: list[Hit] = []
            taken = 0
            # Whole entries only (the cursor is an entry id), about batch_size hits in all.
            for _, fields in entries:
                hits += _from_entry(fields.get(b"h", b""))
                taken += 1
                if len(hits) >= batch_size:
                    break
            if hits:
                write_events(hits)
            cursor.last_id = entries[taken - 1][0].decode()
            cursor.save(update_fields=["last_id", "updated_at"])
        client.xtrim(key, minid=cursor.last_id)
        total += len(hits)
        batches += 1
        if taken == len(entries) and len(entries) < ENTRIES_READ:
            break
    return total


def _recent_clicks(message_ids: list[int], since: datetime) -> dict[int, list[Hit]]:
    """The messages' stored clicks from `since` on, oldest first (what bursts are made of)."""
    recent: dict[int, list[Hit]] = defaultdict(list)
    rows = (
        TrackingEvent.objects.filter(
            message_id__in=message_ids, kind=TrackingKind.CLICK, at__gte=since
        )
        .order_by("message_id", "at", "id")
        .values_list("id", "message_id", "kind", "link_id", "at", "ip", "user_agent", "reason")
    )
    for pk, message_id, kind, link_id, at, ip, agent, reason in rows:
        recent[message_id].append(Hit(kind, message_id, at, link_id, ip, agent, reason, pk=pk))
    return recent


def _opened(message_ids: list[int]) -> set[int]:
    """Those of the messages a person or a privacy proxy has opened."""
    if not message_ids:
        return set()
    return set(
        TrackingEvent.objects.filter(
            message_id__in=message_ids, kind=TrackingKind.OPEN, reason__in=_OPENING
        )
        .values_list("message_id", flat=True)
        .distinct()
    )


def write_events(hits: list[Hit]) -> int:
    """Classify hits and store them with their rollups; return how many were stored.

    Call inside a transaction. Hits for messages (or links) that no longer exist are
    dropped: one of them must not fail the batch at commit, and every later flush with it.
    The rollup rows of the messages are locked first, so concurrent writers of one message
    (the unbuffered mode) take turns and a burst's re-marking is counted once.
    """
    message_ids = sorted({h.message_id for h in hits})
    sent_at, sources = {}, {}
    for pk, sent, source, source_id in (
        EmailMessage.objects.filter(pk__in=message_ids)
        .annotate(sent=Coalesce("outbound__sent_at", "sent_at"))
        .values_list("pk", "sent", "outbound__source", "outbound__source_id")
    ):
        sent_at[pk] = sent
        sources[pk] = (source or "", source_id)
    link_ids = {h.link_id for h in hits if h.link_id is not None}
    links = set(TrackedLink.objects.filter(pk__in=link_ids).values_list("pk", flat=True))
    hits = [
        h for h in hits if h.message_id in sent_at and (h.link_id is None or h.link_id in links)
    ]
    message_ids = sorted({h.message_id for h in hits})
    if not message_ids:
        return 0
    _ensure_rollups(message_ids, sources)
    rollups = {
        r.pk: r
        for r in TrackingRollup.objects.select_for_update()
        .filter(message_id__in=message_ids)
        .order_by("pk")
    }
    # Only clicks look back: at a burst (stored clicks close to the batch's) and at whether
    # the message was opened before.
    hits.sort(key=lambda h: h.at)
    clicked = sorted({h.message_id for h in hits if h.kind == TrackingKind.CLICK})
    recent = _recent_clicks(clicked, hits[0].at - timedelta(seconds=BURST_SECONDS))
    opened = _opened(clicked)

    new: list[Hit] = []
    remarked: dict[int, Hit] = {}
    for hit in hits:
        history = recent[hit.message_id]
        verdict = classify(hit, sent_at[hit.message_id], history, opened=hit.message_id in opened)
        hit.reason, hit.detail = verdict.reason, verdict.detail
        for earlier in verdict.remark:
            # Earlier hits of this batch are counted below with their final reason; stored
            # ones move from the human to the other column now.
            earlier.reason = TrackingReason.SECURITY_SCANNER
            earlier.detail = verdict.remark_detail
            if earlier.pk is not None:
                remarked[earlier.pk] = earlier
                rollups[earlier.message_id].human_clicks -= 1
                rollups[earlier.message_id].other_clicks += 1
        if hit.kind == TrackingKind.OPEN and hit.reason in _OPENING:
            opened.add(hit.message_id)
        if hit.kind == TrackingKind.CLICK:
            history.append(hit)
        new.append(hit)

    _insert_events(new, sources)
    _announce(new, sources)
    by_detail: dict[str, list[int]] = defaultdict(list)
    for pk, event in remarked.items():
        by_detail[event.detail].append(pk)
    for detail, pks in by_detail.items():
        TrackingEvent.objects.filter(pk__in=pks).update(
            reason=TrackingReason.SECURITY_SCANNER, detail=detail[:100]
        )

    for hit in new:
        rollup = rollups[hit.message_id]
        human = hit.reason == TrackingReason.HUMAN
        if hit.kind == TrackingKind.OPEN:
            if human:
                rollup.human_opens += 1
                if rollup.first_human_open_at is None or hit.at < rollup.first_human_open_at:
                    rollup.first_human_open_at = hit.at
                if rollup.last_human_open_at is None or hit.at > rollup.last_human_open_at:
                    rollup.last_human_open_at = hit.at
            else:
                rollup.other_opens += 1
                if hit.reason == TrackingReason.PRIVACY_PROXY:
                    rollup.proxy_opens += 1
        elif human:
            rollup.human_clicks += 1
        else:
            rollup.other_clicks += 1
        if rollup.last_event_at is None or hit.at > rollup.last_event_at:
            rollup.last_event_at = hit.at
    _save_rollups(list(rollups.values()))
    # The reports roll these emails up again within a minute (reports/rollups.py).
    report_rollups.mark(message_ids)
    return len(new)


_EVENT_COLUMNS = (
    "message_id",
    "kind",
    "link_id",
    "at",
    "ip",
    "user_agent",
    "reason",
    "detail",
    "source",
    "source_id",
)


def _insert_events(hits: list[Hit], sources: dict[int, tuple[str, int | None]]) -> None:
    rows = (
        (
            h.message_id,
            h.kind,
            h.link_id,
            h.at,
            h.ip,
            h.user_agent[:USER_AGENT_MAX],
            h.reason,
            h.detail[:100],
            *sources[h.message_id],
        )
        for h in hits
    )
    if connection.vendor != "postgresql":
        TrackingEvent.objects.bulk_create(
            [TrackingEvent(**dict(zip(_EVENT_COLUMNS, row, strict=True))) for row in rows],
            batch_size=500,
        )
        return
    # COPY: ~6x the rows a second of a multi-row INSERT here (~163,000 against ~28,000).
    table = TrackingEvent._meta.db_table
    with connection.cursor() as cursor:
        with cursor.cursor.copy(f"COPY {table} ({', '.join(_EVENT_COLUMNS)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)


def _announce(hits: list[Hit], sources: dict[int, tuple[str, int | None]]) -> None:
    """Queue email_opened / email_clicked for the stored hits (only if anyone listens)."""
    for kind, signal in (
        (TrackingKind.OPEN, signals.email_opened),
        (TrackingKind.CLICK, signals.email_clicked),
    ):
        if signal.has_listeners():
            signals.send_on_commit(
                signal,
                __name__,
                [
                    signals.TrackingRecorded(
                        h.message_id, h.kind, h.reason, h.at, h.link_id, *sources[h.message_id]
                    )
                    for h in hits
                    if h.kind == kind
                ],
            )


def _ensure_rollups(message_ids: list[int], sources) -> None:
    if connection.vendor != "postgresql":
        TrackingRollup.objects.bulk_create(
            [
                TrackingRollup(message_id=m, source=sources[m][0], source_id=sources[m][1])
                for m in message_ids
            ],
            ignore_conflicts=True,
        )
        return
    table = TrackingRollup._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (message_id, human_opens, human_clicks, other_opens, "
            f"other_clicks, proxy_opens, source, source_id) SELECT m, 0, 0, 0, 0, 0, s, i "
            f"FROM unnest(%s::bigint[], %s::varchar[], %s::bigint[]) AS d(m, s, i) "
            f"ON CONFLICT (message_id) DO NOTHING",
            [
                message_ids,
                [sources[m][0] for m in message_ids],
                [sources[m][1] for m in message_ids],
            ],
        )


_ROLLUP_FIELDS = (
    "human_opens",
    "human_clicks",
    "other_opens",
    "other_clicks",
    "proxy_opens",
    "first_human_open_at",
    "last_human_open_at",
    "last_event_at",
)


def _save_rollups(rollups: list[TrackingRollup]) -> None:
    """Write the (locked) rollup rows back in one statement."""
    if connection.vendor != "postgresql":
        TrackingRollup.objects.bulk_update(rollups, _ROLLUP_FIELDS)
        return
    # bulk_update's CASE per row and field grows quadratically with the batch; a join on
    # arrays is one pass.
    table = TrackingRollup._meta.db_table
    types = ("int", "int", "int", "int", "int", "timestamptz", "timestamptz", "timestamptz")
    columns = ", ".join(f"{f} = d.{f}" for f in _ROLLUP_FIELDS)
    arrays = ", ".join(f"%s::{t}[]" for t in types)
    sql = (
        f"UPDATE {table} r SET {columns} FROM unnest(%s::bigint[], {arrays}) "
        f"AS d(message_id, {', '.join(_ROLLUP_FIELDS)}) WHERE r.message_id = d.message_id"
    )
    params = [[r.pk for r in rollups]]
    params += [[getattr(r, f) for r in rollups] for f in _ROLLUP_FIELDS]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
