"""A statement a hot path runs thousands of times a second, prepared once per connection.

Django binds parameters client-side under psycopg: each execution quotes every value into the
SQL text in Python, and PostgreSQL parses and plans that text again. For the few statements
that carry a hot path on their own (the conversations inbox's poll, the single-send API's
insert), `fetchone` uses psycopg's own cursor on the same connection instead: parameters bound
server-side and the statement prepared on first use (PostgreSQL then skips parsing and
planning; psycopg keeps up to 100 prepared statements a connection). It runs in the caller's
transaction like any query, its errors are Django's, and it is recorded where Django records
queries (DEBUG, `CaptureQueriesContext`), so the query counts tests make still see it. A pool in
front of PostgreSQL in transaction mode must keep prepared statements per client (PgBouncer
1.21 and later: `max_prepared_statements`), or CRM_DB_PREPARED_STATEMENTS=false turns preparing
off (crm_mail/settings.py; the statement is then bound server-side and planned each time).
Elsewhere (SQLite in development) it is Django's cursor.
"""

import time

import psycopg
from django.db import DEFAULT_DB_ALIAS, connections


def fetchone(sql: str, params: list | tuple, *, using: str = DEFAULT_DB_ALIAS) -> tuple | None:
    """Run `sql` (placeholders `%s`) with `params`; return its first row, or None."""
    db = connections[using]
    if db.vendor != "postgresql":
        with db.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchone()
    db.ensure_connection()
    started = time.monotonic()
    with db.wrap_database_errors, psycopg.Cursor(db.connection) as cursor:
        cursor.execute(sql, params, prepare=True)
        row = cursor.fetchone()
    if db.queries_logged:
        db.queries_log.append(
            {"sql": f"{sql} -- {list(params)!r}", "time": f"{time.monotonic() - started:.3f}"}
        )
    return row
