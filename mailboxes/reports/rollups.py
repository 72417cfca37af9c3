"""Keep the reports' rollups current, and rebuild them from scratch.

Whatever may change an email's counts marks it (`mark`: the tracking writer in its own
transaction, the receivers in `receivers.py` for sends, bounces, replies, synced mail and
opt-outs). The `reports_refresh` job (every 15 seconds) takes the marked emails in batches
(`refresh_marked`), computes their facts again, and moves each email's difference into the
per-day rollups, in one transaction with the facts, so the rollups stay the sum of the facts.
`rebuild` recomputes everything from the stored emails and the raw tracking events.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date

from django.db import connection, transaction

from mailboxes.constants import Direction
from mailboxes.models import EmailMessage, ReportDaily, ReportDirty, ReportEmail
from mailboxes.models.reports import REPORT_KEYS, REPORT_MEASURES
from mailboxes.reports import facts
from records.bulk import array_literal

BATCH = 2000
EPOCH = date(1970, 1, 1)  # the day of an email that counts for nothing
_COLUMNS = REPORT_KEYS + REPORT_MEASURES
# PostgreSQL's types of the rollups' columns, in _COLUMNS' order.
_TYPES = ("date", "bigint", "bigint", "varchar", "bigint", "bigint") + ("int",) * len(
    REPORT_MEASURES
)


def mark(message_ids: Iterable[int]) -> None:
    """Owe a refresh to these emails (in the caller's transaction)."""
    ids = sorted(set(message_ids))
    if not ids:
        return
    table = ReportDirty._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"INSERT INTO {table} (message_id, marked_at) SELECT m, now() "
                f"FROM unnest(%s::bigint[]) AS m ON CONFLICT (message_id) DO NOTHING",
                [array_literal(ids)],
            )
        else:
            cursor.executemany(
                f"INSERT INTO {table} (message_id, marked_at) VALUES (%s, CURRENT_TIMESTAMP) "
                f"ON CONFLICT (message_id) DO NOTHING",
                [(i,) for i in ids],
            )


def _take(limit: int) -> list[int]:
    """Claim up to `limit` marked emails (deleted now; restored if the transaction fails)."""
    table = ReportDirty._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"DELETE FROM {table} WHERE message_id IN (SELECT message_id FROM {table} "
                f"ORDER BY message_id LIMIT %s FOR UPDATE SKIP LOCKED) RETURNING message_id",
                [limit],
            )
            return [row[0] for row in cursor.fetchall()]
    ids = list(
        ReportDirty.objects.order_by("message_id").values_list("message_id", flat=True)[:limit]
    )
    ReportDirty.objects.filter(message_id__in=ids).delete()
    return ids


def refresh_marked(max_batches: int | None = None) -> int:
    """Roll up the marked emails again, a batch a transaction; return how many."""
    done = batches = 0
    while max_batches is None or batches < max_batches:
        # Looked at first outside a transaction: on SQLite (make run) a transaction takes the
        # database's one write lock at once, and this runs every 15 seconds.
        if not ReportDirty.objects.exists():
            break
        with transaction.atomic():
            ids = _take(BATCH)
            if not ids:
                break
            refresh(ids)
        done += len(ids)
        batches += 1
    return done


def refresh(message_ids: Iterable[int], engagement=facts.from_rollups) -> None:
    """Compute these emails' facts again and move the differences into the rollups.

    Call inside a transaction. The facts rows are locked first, so two refreshes of one
    email take turns and its difference is moved once.
    """
    ids = sorted(set(message_ids))
    if not ids:
        return
    old = _lock_facts(ids)
    new = facts.compute(ids, engagement)
    deltas: dict[tuple, list[int]] = defaultdict(lambda: [0] * len(REPORT_MEASURES))
    changed = []
    for m in ids:
        before, after = old.get(m), new[m]
        if before == after:
            continue
        changed.append(m)
        if before is not None and not before.empty:
            for i, n in enumerate(before.counts):
                deltas[before.key][i] -= n
        if not after.empty:
            for i, n in enumerate(after.counts):
                deltas[after.key][i] += n
    _add(deltas)
    _save_facts({m: new[m] for m in changed})


def _lock_facts(ids: list[int]) -> dict[int, facts.Fact]:
    # A row for each email first (zeros for a new one), so there is a row to lock.
    _write_facts(
        [(m, EPOCH, 0, 0, "", 0, 0) + (0,) * len(REPORT_MEASURES) for m in ids], replace=False
    )
    rows = (
        ReportEmail.objects.select_for_update()
        .filter(message_id__in=ids)
        .order_by("message_id")
        .values_list("message_id", *_COLUMNS)
    )
    found = {}
    for m, *values in rows:
        key, counts = tuple(values[: len(REPORT_KEYS)]), tuple(values[len(REPORT_KEYS) :])
        if not any(counts):
            key = (None,) * len(REPORT_KEYS)
        found[m] = facts.Fact(key, counts)
    return found


def _add(deltas: dict[tuple, list[int]]) -> None:
    """Add each group's differences to its rollup row (created when missing)."""
    rows = [(*key, *counts) for key, counts in deltas.items() if any(counts)]
    if not rows:
        return
    table = ReportDaily._meta.db_table
    columns = ", ".join(_COLUMNS)
    updates = ", ".join(f"{c} = {table}.{c} + EXCLUDED.{c}" for c in REPORT_MEASURES)
    placeholders = ", ".join(["%s"] * len(_COLUMNS))
    sql = (
        f"INSERT INTO {table} ({columns}) VALUES ({placeholders}) "
        f"ON CONFLICT ({', '.join(REPORT_KEYS)}) DO UPDATE SET {updates}"
    )
    # Sorted, so concurrent refreshes lock the rollup rows in one order.
    rows.sort(key=lambda r: tuple(str(v) for v in r[: len(REPORT_KEYS)]))
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql":
            cursor.executemany(sql, rows)
            return
        # One statement: the rows as arrays, joined by unnest.
        arrays = ", ".join(f"%s::{t}[]" for t in _TYPES)
        cursor.execute(
            sql.replace(f"VALUES ({placeholders})", f"SELECT * FROM unnest({arrays})"),
            [list(column) for column in zip(*rows, strict=True)],
        )


def _save_facts(changed: dict[int, facts.Fact]) -> None:
    rows = []
    for m, fact in changed.items():
        key = (EPOCH, 0, 0, "", 0, 0) if fact.empty else fact.key
        rows.append((m, *key, *fact.counts))
    _write_facts(rows, replace=True)


def _write_facts(rows: list[tuple], *, replace: bool) -> None:
    """Insert facts rows (message id, then _COLUMNS), replacing or keeping existing ones.

    Raw SQL: Django's bulk_create prepares each value in Python, ~60% of a refresh's time."""
    if not rows:
        return
    table = ReportEmail._meta.db_table
    columns = ", ".join(("message_id", *_COLUMNS))
    if replace:
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in _COLUMNS)
        conflict = f"ON CONFLICT (message_id) DO UPDATE SET {updates}"
    else:
        conflict = "ON CONFLICT (message_id) DO NOTHING"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            arrays = ", ".join(f"%s::{t}[]" for t in ("bigint", *_TYPES))
            cursor.execute(
                f"INSERT INTO {table} ({columns}) SELECT * FROM unnest({arrays}) {conflict}",
                [list(column) for column in zip(*rows, strict=True)],
            )
        else:
            placeholders = ", ".join(["%s"] * (len(_COLUMNS) + 1))
            cursor.executemany(
                f"INSERT INTO {table} ({columns}) VALUES ({placeholders}) {conflict}", rows
            )


def rebuild(batch: int = 20000) -> int:
    """Recompute every fact and rollup from the stored emails and the raw tracking events;
    return how many rollup rows there are. Marks taken meanwhile are refreshed by the next job."""
    with transaction.atomic():
        ReportDaily.objects.all().delete()
        ReportEmail.objects.all().delete()
        ReportDirty.objects.all().delete()
        ids = list(
            EmailMessage.objects.filter(direction=Direction.OUTGOING)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        for start in range(0, len(ids), batch):
            refresh(ids[start : start + batch], engagement=facts.from_events)
    return ReportDaily.objects.count()
