"""A PostgreSQL cursor that binds on the server, for the sending loop's hot statements.

Django's psycopg cursors bind parameters on the client (for connection poolers): every
statement is quoted into text, parsed and planned again, and results come back as text. The
outbound loop runs the same two statements for every email, so there that costs more than
the work itself: a prepared statement is planned once per connection, and binary results
spare raw MIME the hex round trip of bytea as text (twice the bytes, an encoding pass on each
side).

Behind PgBouncer in transaction mode, prepared statements need PgBouncer 1.21 or later with
`max_prepared_statements` set (see README, "Scaling").
"""

from __future__ import annotations

from contextlib import contextmanager

import psycopg
from django.db import connection
from django.db.backends.utils import CursorWrapper


class _Prepared(psycopg.Cursor):
    def execute(self, query, params=None, *, prepare=True, binary=None):
        return super().execute(query, params, prepare=prepare, binary=binary)


@contextmanager
def server_cursor(binary: bool = False):
    """Yield a cursor on Django's connection (same transaction) that prepares each statement.

    PostgreSQL only. It goes through Django's CursorWrapper, so execute_wrapper hooks and
    query logging see its statements like any other.
    """
    connection.ensure_connection()
    raw = connection.connection
    if raw.prepare_threshold is None:
        # Django turns preparing off for the whole connection; its own cursors never prepare
        # anyway (they bind on the client), so turning it back on reaches this cursor only.
        raw.prepare_threshold = 5
    cursor = _Prepared(raw)
    if binary:
        cursor.format = psycopg.pq.Format.BINARY
    with CursorWrapper(cursor, connection) as wrapped:
        yield wrapped
