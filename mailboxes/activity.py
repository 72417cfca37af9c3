"""How email shows on a record's timeline."""

from django.db.models import Count, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce

from .bodies import fill_bodies
from .constants import Direction
from .models import EmailMessage


def _reply_count():
    """Replies sync found to an email: later incoming messages of its thread that are neither
    auto-replies nor bounces."""
    replies = (
        EmailMessage.objects.filter(
            thread=OuterRef("thread"),
            direction=Direction.INCOMING,
            is_auto_reply=False,
            bounce="",
        )
        .annotate(when=Coalesce("sent_at", "created_at"))
        .filter(when__gt=Coalesce(OuterRef("sent_at"), OuterRef("created_at")))
        .order_by()
        .values("thread")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(replies, output_field=IntegerField()), Value(0))


def prefetch_emails(activities: list) -> None:
    """Attach each email activity's message (one query), parsing bodies nobody parsed yet.

    The same query brings each message's tracking rollup (`engagement`, None when the email
    was not tracked) and its `reply_count`: no query per email, none per tracking event.
    """
    by_activity = {
        m.activity_id: m
        for m in EmailMessage.objects.filter(activity__in=[a.pk for a in activities])
        .select_related("mailbox", "tracking", "outbound")
        .annotate(reply_count=_reply_count())
    }
    fill_bodies(list(by_activity.values()))
    for message in by_activity.values():
        message.engagement = getattr(message, "tracking", None)
    for activity in activities:
        activity.email = by_activity.get(activity.pk)
