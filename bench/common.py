"""Shared set-up for the benchmarks: the bench database, Django, data caching, timing, output.

`configure_environment()` must run before anything imports Django settings. The bench database
(default postgres://postgres@127.0.0.1:5432/crm_mail_bench, BENCH_DATABASE_URL overrides it) is
created when missing, migrated on every run, and keeps each benchmark's data between runs: a
row in `bench_meta` records the signature of each filled data set. BENCH_REBUILD=1 drops the
database and fills everything again. `make faults` (faults/) sets up its own database the same
way, through `configure_environment(database_url, redis_url)`.
"""

import math
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/crm_mail_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/14"


def configure_environment(database_url: str | None = None, redis_url: str | None = None) -> None:
    """Point Django at the bench database and Redis (or the ones given: the fault runs of
    faults/ have their own); call before Django settings load."""
    os.environ["DATABASE_URL"] = database_url or os.environ.get(
        "BENCH_DATABASE_URL", DEFAULT_DATABASE_URL
    )
    os.environ["REDIS_URL"] = redis_url or os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL)
    os.environ["DJANGO_SETTINGS_MODULE"] = "crm_mail.settings"
    # Embedded defaults for everything else; DEBUG is turned off by setup_django().
    os.environ["DJANGO_ENV"] = "development"
    # The benches' Dovecot and SMTP sink listen on loopback, which the product refuses for
    # servers users name unless allowed (README, "Connecting inboxes").
    os.environ["CRM_MAIL_SERVER_ALLOWLIST"] = "127.0.0.0/8,::1"


def _database_settings() -> dict:
    from crm_mail.env import database_from_url

    db = database_from_url(os.environ["DATABASE_URL"], ".")
    if not db["ENGINE"].endswith("postgresql"):
        sys.exit("BENCH_DATABASE_URL (FAULTS_DATABASE_URL for make faults) must be PostgreSQL")
    return db


def _admin_connection():
    """An autocommit connection to the server's `postgres` database, to create or drop ours."""
    import psycopg

    db = _database_settings()
    return psycopg.connect(
        host=db["HOST"] or None,
        port=db["PORT"] or None,
        user=db["USER"] or None,
        password=db["PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
    )


def create_database(*, drop: bool = False) -> None:
    from psycopg import sql

    name = _database_settings()["NAME"]
    if drop and "bench" not in name and "faults" not in name:
        # Never drop a database that is not obviously a benchmark's or a fault run's own.
        sys.exit(f"refusing to drop {name!r}; its name must contain 'bench' or 'faults'")
    with _admin_connection() as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists and drop:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
            exists = None
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def _migrate() -> None:
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)


def setup_django() -> None:
    """Create and migrate the bench database, then make the test Client usable."""
    import django

    rebuild = os.environ.get("BENCH_REBUILD", "") not in ("", "0")
    create_database(drop=rebuild)
    django.setup()
    from django.test.utils import setup_test_environment

    # DEBUG off as in production: no query log, no debug template engine.
    setup_test_environment(debug=False)
    try:
        _migrate()
    except Exception as exc:  # a migration history that no longer matches the code
        print(f"bench: migrate failed ({exc!r}); recreating the bench database")
        rebuild_database()


def rebuild_database() -> None:
    from django.db import connections

    connections.close_all()
    create_database(drop=True)
    _migrate()


def _meta_signature(name: str) -> str | None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS bench_meta "
            "(name text PRIMARY KEY, signature text NOT NULL, filled_at timestamptz NOT NULL)"
        )
        cursor.execute("SELECT signature FROM bench_meta WHERE name = %s", [name])
        row = cursor.fetchone()
    return row[0] if row else None


def ensure_dataset(
    name: str, signature: str, fill: Callable[[], None], verify: Callable[[], bool]
) -> None:
    """Fill a data set once and reuse it while its signature matches and it verifies.

    `fill` runs in one transaction with the bench_meta row, so a fill is all or nothing. A data
    set whose signature changed (or that fails `verify`) cannot be removed piecemeal from tables
    other data shares, so the whole database is rebuilt; other data sets refill on their next run.
    """
    from django.db import connection, transaction

    stored = _meta_signature(name)
    if stored == signature and verify():
        print(f"data: reusing {name} data ({signature})")
        return
    if stored is not None:
        print(f"data: {name} data is stale or damaged; rebuilding the bench database")
        rebuild_database()
        _meta_signature(name)
    started = time.perf_counter()
    with transaction.atomic():
        fill()
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO bench_meta (name, signature, filled_at) VALUES (%s, %s, now())",
                [name, signature],
            )
    filled = time.perf_counter() - started
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    vacuumed = time.perf_counter() - started
    if not verify():
        raise RuntimeError(f"{name} data does not verify right after filling")
    print(f"data: filled {name} ({signature}) in {filled:.1f} s, VACUUM ANALYZE {vacuumed:.1f} s")


@contextmanager
def run_alone(name: str, lock_id: int) -> Iterator[None]:
    """Hold the bench database's advisory lock `lock_id` for the body: a second run of the same
    benchmark (from another shell) waits for the first instead of sharing its rows, its
    settings and its sink."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [lock_id])
        if not cursor.fetchone()[0]:
            print(f"another {name} run holds the bench database; waiting for it")
            cursor.execute("SELECT pg_advisory_lock(%s)", [lock_id])
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [lock_id])


def vacuum(*models) -> None:
    """VACUUM the models' tables: what autovacuum does between runs on a live server (it may be
    off where the bench runs); without it each run's deleted rows pile up and later runs read
    past them."""
    from django.db import connection

    with connection.cursor() as cursor:
        for model in models:
            cursor.execute(f"VACUUM {connection.ops.quote_name(model._meta.db_table)}")


def copy_rows(table: str, columns: list[str], rows) -> None:
    """COPY rows into a table through the Django connection (same transaction)."""
    from django.db import connection

    statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    with connection.cursor() as cursor:
        with cursor.cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)


def timed_get(client, path: str, data=None, **extra) -> tuple[float, object]:
    """One request through the full stack; returns (milliseconds, response)."""
    started = time.perf_counter()
    response = client.get(path, data, **extra)
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise RuntimeError(f"GET {path} {data or ''} answered {response.status_code}")
    return elapsed, response


def percentile(samples: list[float], pct: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(samples)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def describe(samples: list[float]) -> str:
    return (
        f"median {statistics.median(samples):.1f} ms, p95 {percentile(samples, 95):.1f} ms, "
        f"min {min(samples):.1f} ms, max {max(samples):.1f} ms (n={len(samples)})"
    )


def bench_line(name: str, value: float, unit: str, ref: float | None, target: str) -> str:
    ref_text = "-" if ref is None else f"{ref:.2f}"
    return f"BENCH name={name} value={value:.2f} unit={unit} ref={ref_text} target={target}"
