"""How email shows on a record's timeline."""

from mailboxes.models import EmailMessage
from mailboxes.sync.bodies import fill_bodies


def prefetch_emails(activities: list) -> None:
    """Attach each email activity's message (one query), parsing bodies nobody parsed yet.

    The same query brings each message's tracking rollup (`engagement`, None when the email
    was not tracked); `reply_count` is stored on the message by sync. No query per email, none
    per tracking event; one more brings every sending history (lost answers, checks, retries).
    """
    by_activity = {
        m.activity_id: m
        for m in EmailMessage.objects.filter(activity__in=[a.pk for a in activities])
        .select_related("mailbox", "tracking", "outbound")
        .prefetch_related("outbound__events")
    }
    fill_bodies(list(by_activity.values()))
    for message in by_activity.values():
        message.engagement = getattr(message, "tracking", None)
    for activity in activities:
        activity.email = by_activity.get(activity.pk)
