"""reports: the email reports page over ten million tracking events.

Target: with 10,000,000 tracking events over 100,000 emails in PostgreSQL, the reports page
(GET /reports/email/) for a 90-day period grouped by rep renders in under 300 ms, and at
least 20 times faster than the plain GROUP BY over the raw events in the same run (the ref:
the same period's events by rep, day, kind and reason, joined to their emails' senders).
The figure is the median server time of the page through Django's test Client (every
middleware, the templates), signed in as an admin (every rep's numbers).

Data: its own database (the bench database's name + "_reports", crm_mail_bench_reports by
default; about 1.6 GB), kept between runs and reused while its signature matches, so the big
fill (SQL generate_series, about 4 minutes here) runs once; BENCH_REPORTS_DROP=1 drops it
after the run. 50 reps in 5 teams; 100,000 emails over 180 days: one-to-one (some from 10
templates), sequence steps (20) and transactional tokens (5), 3% bounced, 8% replied; 100
events each (opens and clicks: people, privacy proxies, scanners and pre-fetchers). Tracking
rollups are summed from the events, and the reports' rollups made by the refresh job's own
function over every email.
"""

import statistics
import time
from contextlib import contextmanager
from datetime import timedelta
from os import environ

from django.db import connection, connections
from django.test import Client
from django.utils import timezone

from mailboxes.models import (
    EmailMessage,
    EmailTemplate,
    EmailThread,
    Outbound,
    ReportDaily,
    TrackingEvent,
    TrackingRollup,
)
from mailboxes.reports import rollups
from records.constants import RecordAccess
from records.models import Team, User

from .common import _admin_connection, _migrate, bench_line, describe, ensure_dataset, timed_get

NAME = "reports"
TARGET_MS = 300
TARGET_FACTOR = 20
EMAILS = 100_000
EVENTS = 10_000_000
REPS = 50
TEAMS = 5
DAYS = 180
PERIOD_DAYS = 90
SIGNATURE = f"v1 emails={EMAILS} events={EVENTS} reps={REPS} days={DAYS}"
DATABASE_SUFFIX = "_reports"  # beside the bench database: crm_mail_bench_reports
WARMUP = 3
REQUESTS = 20
REF_RUNS = 3
THREAD_SUBJECT = "bench reports"


@contextmanager
def _own_database():
    """Point the default connection at this bench's database (created and migrated when
    missing) for the run, and back afterwards."""
    from psycopg import sql

    conn = connections["default"]
    before = conn.settings_dict["NAME"]
    database = before + DATABASE_SUFFIX

    def create(drop: bool = False) -> None:
        with _admin_connection() as admin:
            name = sql.Identifier(database)
            if drop:
                admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
            found = "SELECT 1 FROM pg_database WHERE datname = %s"
            if not admin.execute(found, [database]).fetchone():
                admin.execute(sql.SQL("CREATE DATABASE {}").format(name))

    create()
    conn.close()
    conn.settings_dict["NAME"] = database
    try:
        try:
            _migrate()
        except Exception as exc:  # a migration history that no longer matches the code
            print(f"bench: migrate failed ({exc!r}); recreating {database}")
            conn.close()
            create(drop=True)
            _migrate()
        yield
    finally:
        conn.close()
        conn.settings_dict["NAME"] = before
        if environ.get("BENCH_REPORTS_DROP", "") not in ("", "0"):
            with _admin_connection() as admin:
                admin.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                        sql.Identifier(database)
                    )
                )
            print(f"data: dropped {database}")


def _insert_select(model, given: dict[str, tuple[str, list]], source: str, extra=()) -> None:
    """INSERT ... SELECT into `model`'s table: the `given` columns as (SQL, params), every other
    concrete field its Python default (Django's defaults are not the database's)."""
    import json

    columns, expressions, params = [], [], []
    for field in model._meta.concrete_fields:
        if field.primary_key and field.column not in given:
            continue
        columns.append(field.column)
        if field.column in given:
            expression, values = given[field.column]
            expressions.append(expression)
            params += values
            continue
        value = field.get_default()
        if field.get_internal_type() == "JSONField":
            value = json.dumps(value)
        expressions.append("%s")
        params.append(value)
    table = model._meta.db_table
    quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
    sql = f"INSERT INTO {table} ({quoted}) SELECT {', '.join(expressions)} {source}"
    with connection.cursor() as cursor:
        cursor.execute(sql, params + list(extra))


def _fill() -> None:
    started = time.perf_counter()
    teams = [Team.objects.get_or_create(name=f"Bench reports {t}")[0] for t in range(TEAMS)]
    reps = [
        User.objects.create(
            username=f"bench-rep-{n}",
            first_name="Rep",
            last_name=str(n),
            team=teams[n % TEAMS],
            record_access=RecordAccess.OWN,
        )
        for n in range(REPS)
    ]
    first_rep = reps[0].pk
    templates = [
        EmailTemplate.objects.create(owner=reps[0], name=f"Bench template {n}", subject="Hi")
        for n in range(10)
    ]
    first_template = templates[0].pk
    thread = EmailThread.objects.create(subject=THREAD_SUBJECT)
    now = timezone.now()
    # Emails g = 0..EMAILS-1, spread over DAYS days back from now; 3% bounced, 8% replied.
    spread = f"(%s::timestamptz - (g::float * {DAYS} / {EMAILS}) * interval '1 day')"
    _insert_select(
        EmailMessage,
        {
            "thread_id": ("%s", [thread.pk]),
            "direction": ("'out'", []),
            "from_addr": ("'rep@bench.example'", []),
            "subject": ("'Bench report email ' || g", []),
            "sent_at": (spread, [now]),
            "bounce": ("CASE WHEN g %% 33 = 0 THEN 'hard' ELSE '' END", []),
            "reply_count": ("CASE WHEN g %% 12 = 0 THEN 1 ELSE 0 END", []),
            "body_parsed": ("true", []),
            "created_at": ("%s", [now]),
        },
        f"FROM generate_series(0, {EMAILS - 1}) AS g ORDER BY g",
    )
    first = (
        EmailMessage.objects.filter(thread=thread).order_by("pk").values_list("pk", flat=True)[0]
    )
    # Their outbound rows: 60% one-to-one (a fifth from a template), 30% sequence steps (20,
    # each with its template), 10% transactional (5 tokens).
    kind = "(g %% 10)"
    _insert_select(
        Outbound,
        {
            "message_id": ("m.id", []),
            "sender_id": (f"%s + (g %% {REPS})", [first_rep]),
            "envelope_from": ("'rep@bench.example'", []),
            "recipients": ("'[\"someone@bench.example\"]'", []),
            "status": ("'sent'", []),
            "next_attempt_at": ("m.sent_at", []),
            "sent_at": ("m.sent_at", []),
            "privacy_context": ("'one_to_one'", []),
            "track": ("true", []),
            "source": (
                f"CASE WHEN {kind} < 6 THEN 'one_to_one' WHEN {kind} < 9 THEN 'sequence' "
                f"ELSE 'transactional' END",
                [],
            ),
            "source_id": (
                f"CASE WHEN {kind} < 6 THEN NULL WHEN {kind} < 9 THEN 1 + (g / 10) %% 20 "
                f"ELSE 1 + (g / 10) %% 5 END",
                [],
            ),
            "template_id": (
                f"CASE WHEN {kind} < 6 AND g %% 5 = 0 THEN %s + (g / 10) %% 10 "
                f"WHEN {kind} BETWEEN 6 AND 8 THEN %s + (g / 10) %% 10 ELSE NULL END",
                [first_template, first_template],
            ),
            "created_at": ("m.sent_at", []),
        },
        "FROM (SELECT id, sent_at, id - %s AS g FROM mailboxes_emailmessage "
        "WHERE thread_id = %s) AS m",
        [first, thread.pk],
    )
    print(f"data: {EMAILS} emails in {time.perf_counter() - started:.1f} s", flush=True)
    # The events: EVENTS / EMAILS per email, within two days of its send; 60% opens. Reasons:
    # 70% people, 12% privacy proxy, 12% security scanner, 6% pre-fetch.
    started = time.perf_counter()
    per = EVENTS // EMAILS
    reason = (
        "CASE WHEN r < 70 THEN 'human' WHEN r < 82 THEN 'privacy_proxy' "
        "WHEN r < 94 THEN 'security_scanner' ELSE 'prefetch' END"
    )
    _insert_select(
        TrackingEvent,
        {
            "message_id": ("%s + (e / %s)", [first, per]),
            "kind": ("CASE WHEN e %% 10 < 6 THEN 'open' ELSE 'click' END", []),
            "at": (
                "%s::timestamptz - ((e / %s)::float * %s / %s) * interval '1 day' "
                "+ (e %% %s) * interval '29 minutes'",
                [now, per, DAYS, EMAILS, per],
            ),
            "reason": (reason, []),
            "source": ("''", []),
        },
        "FROM (SELECT e, (e::bigint * 7919) %% 100 AS r "
        f"FROM generate_series(0, {EVENTS - 1}) AS e) AS x",
    )
    print(f"data: {EVENTS} events in {time.perf_counter() - started:.1f} s", flush=True)
    started = time.perf_counter()
    # What the tracking writer keeps per email, summed from the events once.
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {TrackingRollup._meta.db_table} (message_id, human_opens, "
            "human_clicks, other_opens, other_clicks, proxy_opens, source, source_id) "
            "SELECT e.message_id, "
            "count(*) FILTER (WHERE kind = 'open' AND reason = 'human'), "
            "count(*) FILTER (WHERE kind = 'click' AND reason = 'human'), "
            "count(*) FILTER (WHERE kind = 'open' AND reason <> 'human'), "
            "count(*) FILTER (WHERE kind = 'click' AND reason <> 'human'), "
            "count(*) FILTER (WHERE kind = 'open' AND reason = 'privacy_proxy'), "
            "min(o.source), min(o.source_id) "
            f"FROM {TrackingEvent._meta.db_table} e "
            f"JOIN {Outbound._meta.db_table} o ON o.message_id = e.message_id "
            "GROUP BY e.message_id"
        )
    print(f"data: tracking rollups in {time.perf_counter() - started:.1f} s", flush=True)
    started = time.perf_counter()
    # The reports' rollups, as the refresh job makes them.
    ids = list(EmailMessage.objects.filter(thread=thread).values_list("pk", flat=True))
    rollups.mark(ids)
    rolled = rollups.refresh_marked()
    print(
        f"data: reports rollups of {rolled} emails in {time.perf_counter() - started:.1f} s",
        flush=True,
    )


def _verify() -> bool:
    return (
        EmailMessage.objects.filter(thread__subject=THREAD_SUBJECT).count() == EMAILS
        and ReportDaily.objects.exists()
    )


def _ref_group_by(start) -> float:
    """The plain GROUP BY over the raw events the page would need without rollups."""
    sql = (
        f"SELECT o.sender_id, e.at::date, e.kind, e.reason, count(*), "
        f"count(DISTINCT e.message_id) FROM {TrackingEvent._meta.db_table} e "
        f"JOIN {Outbound._meta.db_table} o ON o.message_id = e.message_id "
        f"WHERE e.at >= %s GROUP BY 1, 2, 3, 4"
    )
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(sql, [start])
        cursor.fetchall()
    return (time.perf_counter() - started) * 1000


def run() -> bool:
    with _own_database():
        return _run()


def _run() -> bool:
    ensure_dataset(NAME, SIGNATURE, _fill, _verify)
    admin, _ = User.objects.get_or_create(
        username="bench-reports-admin",
        defaults={"is_staff": True, "record_access": RecordAccess.ALL},
    )
    client = Client()
    client.force_login(admin)
    today = timezone.now().date()
    start = today - timedelta(days=PERIOD_DAYS - 1)
    query = {"start": start.isoformat(), "end": today.isoformat(), "group": "rep"}
    for _ in range(WARMUP):
        timed_get(client, "/reports/email/", query)
    samples = []
    for _ in range(REQUESTS):
        elapsed, response = timed_get(client, "/reports/email/", query)
        samples.append(elapsed)
    html = response.content.decode()
    ok = "Rep 0" in html and "report-line" in html
    rows = ReportDaily.objects.filter(day__gte=start).count()
    print(f"page: {describe(samples)}; {rows} rollup rows in the period")
    refs = [_ref_group_by(start) for _ in range(REF_RUNS)]
    ref = statistics.median(refs)
    value = statistics.median(samples)
    factor = ref / value if value else 0
    print(
        f"ref: plain GROUP BY over the raw events, median {ref:.0f} ms (n={REF_RUNS}); "
        f"the page is {factor:.1f}x faster (target >= {TARGET_FACTOR}x)"
    )
    verdict = "met" if value < TARGET_MS and factor >= TARGET_FACTOR else "NOT met"
    print(f"target: under {TARGET_MS} ms and >= {TARGET_FACTOR}x the ref: {verdict}")
    print(bench_line(NAME, value, "ms", ref, f"<{TARGET_MS}ms,>={TARGET_FACTOR}x_ref"))
    if not ok:
        print("FAIL reports: the page does not show the reps' numbers")
    return ok
