"""A sync page's foreign-key checks read the tables they point at by index, also on a fresh
install whose tables were last measured empty.

PostgreSQL checks a page's foreign keys when the page commits, one lookup a row, with plans it
keeps for the connection: made while the tables were small, or from statistics taken when they
were empty, those plans read the whole table for every row, and an initial sync of thousands
of messages slowed page by page (a second of each 10,000-message `imap_sync` bench run).
"""

import pytest
from django.db import connection

from mailboxes.sync.engine import sync_mailbox
from tests.factories import ContactFactory
from tests.mailboxes.inboxes import imap_mailbox

from .test_sync_imap import ME, mime

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

# The tables a logged email's rows point at, which an initial sync grows.
GROWN = ("records_activity", "mailboxes_emailthread", "mailboxes_emailmessage")
MESSAGES = 300


def whole_table_reads() -> dict[str, int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_force_next_flush()")
        cursor.execute(
            "SELECT relname, seq_scan FROM pg_stat_user_tables WHERE relname = ANY(%s)",
            [list(GROWN)],
        )
        return dict(cursor.fetchall())


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's planner")
def test_an_initial_sync_checks_its_keys_without_reading_whole_tables(dovecot, owner):
    inbox = imap_mailbox(owner, dovecot, email=ME)
    ContactFactory(owner=owner, emails=["anna@client.example"])
    with connection.cursor() as cursor:
        for table in GROWN:  # statistics of the empty tables, as a fresh install has them
            cursor.execute(f"VACUUM ANALYZE {table}")
    for n in range(MESSAGES):
        dovecot.deliver(mime("Anna <anna@client.example>", ME, f"Question {n}"))
    before = whole_table_reads()

    assert sync_mailbox(inbox.pk) == MESSAGES

    after = whole_table_reads()
    # A few whole-table reads are the sync's own small lookups; one a row was the bug.
    assert {t: after[t] - before[t] for t in GROWN} == {t: pytest.approx(0, abs=20) for t in GROWN}
