"""Insert many rows fast: binary COPY on PostgreSQL, bulk_create elsewhere; and match a
column against many values with one array parameter (`AnyOf`).

The core offers it so that every app writing or looking up in bulk (the timeline, sync's
message rows and its page of headers) shares one implementation.
"""

from django.core.exceptions import EmptyResultSet
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models import JSONField
from django.db.models.lookups import In
from django.utils import timezone


class AnyOf(In):
    """`lhs IN values`, written `lhs = ANY(%s)` with the values as one array on PostgreSQL.

    Use it as an expression: `.filter(AnyOf(F("message_id"), ids))`. Django writes `IN` with
    a placeholder per value, which psycopg (binding client-side) splits and quotes one by one
    in Python and PostgreSQL parses one by one: for a sync page's thousands of ids that was
    most of the time of its lookups. Elsewhere (SQLite) it is `IN`.
    """

    def as_postgresql(self, compiler, connection):
        if not self.rhs_is_direct_value():
            return self.as_sql(compiler, connection)
        lhs, lhs_params = self.process_lhs(compiler, connection)
        field = self.lhs.output_field
        values = [
            field.get_db_prep_value(value, connection, prepared=True)
            for value in dict.fromkeys(self.rhs)
            if value is not None
        ]
        if not values:
            raise EmptyResultSet
        array_type = field.db_type(connection).split("(")[0]
        return f"{lhs} = ANY(%s::{array_type}[])", [*lhs_params, array_literal(values)]


def array_literal(values: list) -> str | list:
    """The values as the text of a PostgreSQL array when they are all ints or all strings
    (each string double-quoted, its backslashes and quotes escaped), for psycopg to bind as
    one string; other values as they are. psycopg's list dumper quotes element by element in
    Python: for a sync page's thousands of ids that was 5% of the sync's time."""
    if all(type(value) is int for value in values):
        return "{" + ",".join(map(str, values)) + "}"
    if all(type(value) is str for value in values):
        quoted = (v.replace("\\", "\\\\").replace('"', '\\"') for v in values)
        return '{"' + '","'.join(quoted) + '"}'
    return values


def insert_rows(model, values: dict[str, list], now, *, keys: bool = True) -> list[int]:
    """Insert rows given column by column (field attnames, equal lengths); return their keys.

    Fields not given take their defaults (auto_now fields `now`), as with bulk_create. A child
    model of multi-table inheritance (Contact) fills its own table only: its parent's rows
    (Record) are inserted first, and their keys given as the child's primary key. On
    PostgreSQL the rows go in by binary COPY, with keys drawn from the table's sequence first
    (or left to the table when `keys` is false, and none returned): bulk_create would build
    one INSERT whose text holds every value escaped (psycopg binds client-side under Django),
    about five times slower for a page of mail. Elsewhere (SQLite in development) it is
    bulk_create.
    """
    count = len(next(iter(values.values())))
    if not count:
        return []
    meta = model._meta
    if connection.vendor != "postgresql":
        rows = [model(**{name: column[i] for name, column in values.items()}) for i in range(count)]
        if meta.parents:
            # bulk_create refuses a child table: each row alone, its parent's left as it is.
            for row in rows:
                row.save_base(raw=True, force_insert=True)
            return [row.pk for row in rows] if keys else []
        created = model.objects.bulk_create(rows)
        return [row.pk for row in created] if keys else []
    quote = connection.ops.quote_name
    # The connection itself, not its proxy: every attribute read through `connection` looks
    # the connection up again, two thirds of the time a JSON value took to prepare.
    db = connections[DEFAULT_DB_ALIAS]
    with connection.cursor() as cursor:
        ids = []
        if keys and meta.pk.attname not in values:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [meta.db_table, meta.pk.column, count],
            )
            ids = [row[0] for row in cursor.fetchall()]
        names, types, columns = [], [], []
        # A child table of multi-table inheritance holds only its own fields.
        for f in meta.local_concrete_fields:
            if f.primary_key and f.attname in values:
                column = list(values[f.attname])
                ids = column if keys else []
            elif f.primary_key:
                if not keys:
                    continue
                column = ids
            elif f.attname in values:
                column = values[f.attname]
                if isinstance(f, JSONField):
                    column = [f.get_db_prep_save(v, db) for v in column]
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
        # psycopg's own cursor: its errors are made Django's (IntegrityError, ...) here.
        with connection.wrap_database_errors, cursor.cursor.copy(statement) as copy:
            copy.set_types(types)
            for row in zip(*columns, strict=True):
                copy.write_row(row)
    return ids


def create_rows(objs: list, now=None) -> list:
    """bulk_create's job for unsaved instances of one model without parents: on PostgreSQL
    through `insert_rows` (binary COPY, about five times faster than the INSERT bulk_create
    builds), each instance given its key and marked saved; elsewhere bulk_create. Fields'
    `pre_save` runs as in bulk_create (auto_now)."""
    if not objs or connection.vendor != "postgresql":
        return type(objs[0]).objects.bulk_create(objs) if objs else objs
    model = type(objs[0])
    values = {
        f.attname: [f.pre_save(obj, True) for obj in objs]
        for f in model._meta.local_concrete_fields
        if not (f.primary_key or f.has_db_default() or getattr(f, "generated", False))
    }
    for obj, pk in zip(objs, insert_rows(model, values, now or timezone.now()), strict=True):
        obj.pk = pk
        obj._state.adding, obj._state.db = False, connection.alias
    return objs


def update_rows(objs: list, fields: list[str]) -> None:
    """Save `fields` of many rows of one model (bulk_update's job) in one statement.

    On PostgreSQL an UPDATE joined to the new values given as arrays (unnest): bulk_update
    builds a CASE WHEN of every row for every field, slow to build and to plan for a page of
    rows. Elsewhere (SQLite in development) it is bulk_update.
    """
    if not objs:
        return
    model = type(objs[0])
    if connection.vendor != "postgresql":
        model.objects.bulk_update(objs, fields)
        return
    meta = model._meta
    quote = connection.ops.quote_name
    targets = [meta.get_field(name) for name in fields]
    arrays = [[obj.pk for obj in objs]] + [
        [f.get_db_prep_save(getattr(obj, f.attname), connection) for obj in objs] for f in targets
    ]
    names = [quote(f.column) for f in targets]
    types = [meta.pk.db_type(connection)] + [f.db_type(connection).split("(")[0] for f in targets]
    unnest = ", ".join(f"%s::{t}[]" for t in types)
    sets = ", ".join(f"{name} = v.{name}" for name in names)
    pk = quote(meta.pk.column)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {quote(meta.db_table)} AS t SET {sets} "
            f"FROM unnest({unnest}) AS v({pk}, {', '.join(names)}) WHERE t.{pk} = v.{pk}",
            arrays,
        )
