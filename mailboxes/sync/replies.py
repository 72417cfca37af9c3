"""Count the replies each email got, as sync logs them, and tell the layers above.

An email's replies are the later incoming messages of its thread that are neither auto-replies
nor bounces. Sync refreshes the stored counts of the threads a page touched (one statement),
so timelines and reports read a column instead of counting at render time.
"""

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
    """Recount the replies of every email in these threads (idempotent)."""
    if not thread_ids:
        return
    replies = _replies()
    counted = replies.order_by().values("thread").annotate(n=Count("pk")).values("n")
    EmailMessage.objects.filter(thread_id__in=thread_ids).update(
        reply_count=Coalesce(Subquery(counted, output_field=IntegerField()), Value(0)),
        first_reply_at=Subquery(replies.order_by("when").values("when")[:1]),
    )
