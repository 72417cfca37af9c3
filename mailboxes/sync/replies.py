"""Count the replies each outgoing email got, as sync logs them.

An email's replies are the later incoming messages of its thread that are neither auto-replies
nor bounces. Sync refreshes the stored counts of the threads a page touched (one statement),
so timelines and reports read a column instead of counting at render time. Only the rep's
emails (outgoing) are counted, and only rows whose count changes are written: most pages
touch threads with nothing of ours in them.
"""

import functools

from django.db import connection
from django.db.models import Count, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce

from mailboxes.constants import Direction
from mailboxes.models import EmailMessage


def _replies():
    return (
        EmailMessage.objects.filter(
            thread=OuterRef("thread"),
            direction=Direction.INCOMING,
            is_auto_reply=False,
            bounce="",
        )
        .annotate(when=Coalesce("sent_at", "created_at"))
        .filter(when__gt=Coalesce(OuterRef("sent_at"), OuterRef("created_at")))
    )


def refresh_reply_counts(thread_ids: set[int]) -> None:
    """Recount the replies of every outgoing email in these threads (idempotent)."""
    if not thread_ids:
        return
    if connection.vendor == "postgresql":
        # One statement, one pass over the threads' rows: the ORM's correlated subqueries and
        # bulk_update cost sync a tenth of its write time.
        with connection.cursor() as cursor:
            cursor.execute(_refresh_sql(), [sorted(thread_ids)])
        return
    replies = _replies()
    counted = replies.order_by().values("thread").annotate(n=Count("pk")).values("n")
    rows = (
        EmailMessage.objects.filter(thread_id__in=thread_ids, direction=Direction.OUTGOING)
        .annotate(
            new_count=Coalesce(Subquery(counted, output_field=IntegerField()), Value(0)),
            new_first=Subquery(replies.order_by("when").values("when")[:1]),
        )
        .values_list("pk", "reply_count", "first_reply_at", "new_count", "new_first")
    )
    changed = [
        EmailMessage(pk=pk, reply_count=count, first_reply_at=first)
        for pk, old_count, old_first, count, first in rows
        if (old_count, old_first) != (count, first)
    ]
    if changed:
        EmailMessage.objects.bulk_update(changed, ["reply_count", "first_reply_at"])


@functools.cache
def _refresh_sql() -> str:
    table = connection.ops.quote_name(EmailMessage._meta.db_table)
    return (
        f"WITH counted AS (SELECT o.id, count(i.id) AS n, "
        f"min(COALESCE(i.sent_at, i.created_at)) AS first FROM {table} o "
        f"LEFT JOIN {table} i ON i.thread_id = o.thread_id "
        f"AND i.direction = '{Direction.INCOMING}' AND NOT i.is_auto_reply AND i.bounce = '' "
        f"AND COALESCE(i.sent_at, i.created_at) > COALESCE(o.sent_at, o.created_at) "
        f"WHERE o.thread_id = ANY(%s) AND o.direction = '{Direction.OUTGOING}' GROUP BY o.id) "
        f"UPDATE {table} m SET reply_count = counted.n, first_reply_at = counted.first "
        f"FROM counted WHERE m.id = counted.id AND (m.reply_count <> counted.n "
        f"OR m.first_reply_at IS DISTINCT FROM counted.first)"
    )
