"""Insert many rows fast: binary COPY on PostgreSQL, bulk_create elsewhere.

The core offers it so that every app writing in bulk (the timeline, sync's message rows) shares
one implementation.
"""

from django.db import connection
from django.db.models import JSONField


def insert_rows(model, values: dict[str, list], now, *, keys: bool = True) -> list[int]:
    """Insert rows given column by column (field attnames, equal lengths); return their keys.

    Fields not given take their defaults (auto_now fields `now`), as with bulk_create. On
    PostgreSQL the rows go in by binary COPY, with keys drawn from the table's sequence first
    (or left to the table when `keys` is false, and none returned): bulk_create would build
    one INSERT whose text holds every value escaped (psycopg binds client-side under Django),
    about five times slower for a page of mail. Elsewhere (SQLite in development) it is
    bulk_create.
    """
    count = len(next(iter(values.values())))
    if not count:
        return []
    if connection.vendor != "postgresql":
        rows = [model(**{name: column[i] for name, column in values.items()}) for i in range(count)]
        created = model.objects.bulk_create(rows)
        return [row.pk for row in created] if keys else []
    meta = model._meta
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        ids = []
        if keys:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [meta.db_table, meta.pk.column, count],
            )
            ids = [row[0] for row in cursor.fetchall()]
        names, types, columns = [], [], []
        for f in meta.concrete_fields:
            if f.primary_key:
                if not keys:
                    continue
                column = ids
            elif f.attname in values:
                column = values[f.attname]
                if isinstance(f, JSONField):
                    column = [f.get_db_prep_save(v, connection) for v in column]
            elif f.has_db_default() or getattr(f, "generated", False):
                continue
            else:
                auto_now = getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
                default = now if auto_now else f.get_default()
                column = [f.get_db_prep_save(default, connection)] * count
            names.append(quote(f.column))
            # "varchar(255)" -> "varchar", as Django's own UNNEST inserts do.
            types.append(f.db_type(connection).split("(")[0])
            columns.append(column)
        statement = f"COPY {quote(meta.db_table)} ({', '.join(names)}) FROM STDIN (FORMAT BINARY)"
        with cursor.cursor.copy(statement) as copy:
            copy.set_types(types)
            for row in zip(*columns, strict=True):
                copy.write_row(row)
    return ids
