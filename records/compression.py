"""lz4 for the columns that hold mail and files (their migrations run `lz4_operation`).

PostgreSQL compresses any value over about 2 kB before storing it, with pglz unless a column
says otherwise. pglz writes about 20 MB of email a second on a 2-core machine; lz4 about 80,
and its values are smaller too (78 MB of mixed messages: 68 MB on disk with pglz, 56 MB with
lz4). A sync logging a page of messages, or the SMTP API storing what it is handed, writes
their raw MIME and bodies: PostgreSQL's CPU, taken from the cores the workers share with it
(no benchmark's critical path moved with it; their write CPU did). lz4 needs PostgreSQL 14
or later built with it (Debian's, Ubuntu's and the official images are); elsewhere the
columns keep pglz. Values already stored keep their compression until rewritten.
"""

from django.db import DatabaseError, migrations, transaction


def use_lz4(schema_editor, columns: dict[str, list[str]], method: str = "lz4") -> None:
    """Compress these columns ({table: [column, ...]}) with `method` from now on ("default":
    the server's default again). Nothing on SQLite, on PostgreSQL before 14, or on a server
    built without lz4."""
    connection = schema_editor.connection
    if connection.vendor != "postgresql" or connection.pg_version < 140000:
        return
    quote = schema_editor.quote_name
    for table, names in columns.items():
        clauses = ", ".join(f"ALTER COLUMN {quote(n)} SET COMPRESSION {method}" for n in names)
        try:
            with transaction.atomic(using=connection.alias):
                schema_editor.execute(f"ALTER TABLE {quote(table)} {clauses}")
        except DatabaseError:  # "compression method lz4 not supported"
            return


def lz4_operation(columns: dict[str, list[str]]) -> migrations.RunPython:
    """A migration's operation: `use_lz4` on these columns, undone by the server's default."""
    return migrations.RunPython(
        lambda apps, schema_editor: use_lz4(schema_editor, columns),
        lambda apps, schema_editor: use_lz4(schema_editor, columns, "default"),
    )
