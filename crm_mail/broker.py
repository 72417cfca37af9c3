"""The embedded broker of `make run`: kombu's SQLAlchemy transport on a SQLite file in var/.

Why this transport: settings.py, beside CELERY_BROKER_URL. Two things it does not do by itself:

- kombu creates its tables and each queue's row on first use, so processes starting at once on
  a fresh file race for them (a UNIQUE constraint failure killed a publisher in one start of
  five): `prepare` creates them all first, in the dev runner, before any other process starts.
- It never deletes a message, it only hides it once a worker took it: `prune` deletes those.
  A hidden message is never shown again (a worker that stops gracefully puts back what it had
  not acknowledged as new messages), so nothing still owed is deleted.
"""

import sqlite3
from contextlib import closing

from django.conf import settings

# kombu's default table of messages (transport option `message_tablename`).
MESSAGE_TABLE = "kombu_message"


def is_embedded() -> bool:
    return settings.CELERY_BROKER_URL.startswith("sqla+sqlite:")


def prepare(app, queues: list[str]) -> None:
    """Create the broker's file, tables and queues, in one process before the others start."""
    settings.BROKER_FILE.parent.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(settings.BROKER_FILE)) as db:
        # Kept by the file: readers never wait for the one writer.
        db.execute("PRAGMA journal_mode=WAL")
    with app.connection_for_write() as conn:
        for queue in queues:
            conn.default_channel.queue_declare(queue=queue)


def prune() -> int:
    """Delete the messages workers have taken; return how many."""
    with closing(sqlite3.connect(settings.BROKER_FILE, timeout=20)) as db, db:
        return db.execute(f"DELETE FROM {MESSAGE_TABLE} WHERE visible = 0").rowcount
