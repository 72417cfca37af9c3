"""How email shows on a record's timeline."""

from .bodies import fill_bodies
from .models import EmailMessage


def prefetch_emails(activities: list) -> None:
    """Attach each email activity's message (one query), parsing bodies nobody parsed yet."""
    by_activity = {
        m.activity_id: m
        for m in EmailMessage.objects.filter(
            activity__in=[a.pk for a in activities]
        ).select_related("mailbox")
    }
    fill_bodies(list(by_activity.values()))
    for activity in activities:
        activity.email = by_activity.get(activity.pk)
