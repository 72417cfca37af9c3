"""Count the replies each outgoing email got, as sync logs them.

An email's replies are the later incoming messages of its thread that are neither auto-replies
nor bounces. Sync refreshes the stored counts of the threads a page touched (one statement),
so timelines and reports read a column instead of counting at render time. Only the rep's
emails (outgoing) are counted, and only rows whose count changes are written: most pages
touch threads with nothing of ours in them.
"""

from django.db import connection
from django.db.models import F

from mailboxes.constants import Direction
from mailboxes.models import EmailMessage
from records.bulk import AnyOf, array_literal


def refresh_reply_counts(thread_ids: set[int]) -> None:
    """Recount the replies of every outgoing email in these threads (idempotent).

    One statement, one pass over the threads' rows, the same on PostgreSQL and SQLite (3.39 or
    later): the ORM's correlated subqueries and a bulk update cost sync a tenth of its write
    time. Sync calls it in a page's transaction, whose settings (engine.PAGE_SETTINGS) keep
    the planner on the thread index while the table has no statistics yet.
    """
    if not thread_ids:
        return
    ids = sorted(thread_ids)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(_REFRESH.format(match="= ANY(%s::bigint[])"), [array_literal(ids)])
        else:
            cursor.execute(_REFRESH.format(match=f"IN ({', '.join(['%s'] * len(ids))})"), ids)


def outgoing_in_threads(thread_ids: set[int]) -> list[tuple[int, int]]:
    """(id, thread id) of the rep's emails in these threads, oldest first."""
    return list(
        EmailMessage.objects.filter(AnyOf(F("thread_id"), thread_ids), direction=Direction.OUTGOING)
        .order_by("pk")
        .values_list("pk", "thread_id")
    )


_TABLE = connection.ops.quote_name(EmailMessage._meta.db_table)
_REFRESH = (
    f"WITH counted AS (SELECT o.id, count(i.id) AS n, "
    f"min(COALESCE(i.sent_at, i.created_at)) AS first FROM {_TABLE} o "
    f"LEFT JOIN {_TABLE} i ON i.thread_id = o.thread_id "
    f"AND i.direction = '{Direction.INCOMING}' AND NOT i.is_auto_reply AND i.bounce = '' "
    f"AND COALESCE(i.sent_at, i.created_at) > COALESCE(o.sent_at, o.created_at) "
    f"WHERE o.thread_id {{match}} AND o.direction = '{Direction.OUTGOING}' GROUP BY o.id) "
    f"UPDATE {_TABLE} AS m SET reply_count = counted.n, first_reply_at = counted.first "
    f"FROM counted WHERE m.id = counted.id AND (m.reply_count <> counted.n "
    f"OR m.first_reply_at IS DISTINCT FROM counted.first)"
)
