"""How email shows on a record's timeline: its title, what it offers, its opens and clicks."""

from collections import defaultdict

from django.db.models import F, Window
from django.db.models.functions import RowNumber
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from mailboxes.constants import FORWARDED_TITLE, Direction, SendStatus
from mailboxes.models import EmailMessage, TrackingEvent, TrackingReason
from mailboxes.outbox.outcomes import ACTIVE
from mailboxes.sync.bodies import fill_bodies

# The latest hits listed under each email; the counters above them count every one.
HITS_SHOWN = 50

# What an email written in the CRM is called on the timeline until it has gone out; once it
# has, "Email sent" or the title its caller gave it ("Email forwarded").
STATUS_TITLES = {
    SendStatus.SCHEDULED: _("Email scheduled"),
    SendStatus.QUEUED: _("Email queued"),
    SendStatus.DEFERRED: _("Email deferred"),
    SendStatus.SENDING: _("Email being sent"),
    SendStatus.CHECKING: _("Email may have been sent"),
    SendStatus.UNCERTAIN: _("Email may have been sent"),
    SendStatus.FAILED: _("Email not sent"),
    SendStatus.CANCELLED: _("Email cancelled"),
}


def email_title(activity, message) -> str:
    """One title per state, the same on every timeline."""
    if message is None:
        return _("Email")
    if message.direction == Direction.INCOMING:
        return _("Email received")
    outbound = getattr(message, "outbound", None)
    if outbound is not None and not outbound.went_out:
        return STATUS_TITLES.get(outbound.status, _("Email"))
    if activity.title == FORWARDED_TITLE:
        # Stored in English when written (marked for the catalogue); shown in the reader's.
        return gettext(FORWARDED_TITLE)
    return activity.title or _("Email sent")


def prefetch_emails(activities: list) -> None:
    """Attach each email activity's message (one query), parsing bodies nobody parsed yet.

    The same query brings each message's tracking rollup (`engagement`, None when the email
    was not tracked); `reply_count` is stored on the message by sync. One more query brings
    every sending history (lost answers, checks, retries), and one the latest hits of the
    emails that have any (`hits_people`, `hits_other`): none per email, none per hit.
    """
    by_activity = {
        m.activity_id: m
        for m in EmailMessage.objects.filter(activity__in=[a.pk for a in activities])
        .select_related("mailbox", "tracking", "outbound")
        .prefetch_related("outbound__events")
    }
    fill_bodies(list(by_activity.values()))
    for message in by_activity.values():
        _describe(message)
    _attach_hits([m for m in by_activity.values() if m.engagement and m.engagement.last_event_at])
    for activity in activities:
        activity.email = by_activity.get(activity.pk)
        activity.email_title = email_title(activity, activity.email)


def _describe(message) -> None:
    """What the timeline offers for this email, from its sending state.

    Opens and clicks mean something once an email went out (or if a hit came anyway); reply
    and forward too; deleting waits until no worker may still send it.
    """
    outbound = getattr(message, "outbound", None)
    message.engagement = getattr(message, "tracking", None)
    message.went_out = outbound is None or outbound.went_out
    message.deletable = outbound is None or outbound.status not in ACTIVE
    message.show_engagement = message.went_out or bool(
        message.engagement and message.engagement.last_event_at
    )
    message.hits_people, message.hits_other, message.hits_more = [], [], 0


def _attach_hits(messages: list) -> None:
    """The latest HITS_SHOWN hits of each message, people's apart from the rest, newest first."""
    if not messages:
        return
    latest = Window(RowNumber(), partition_by=[F("message_id")], order_by=F("at").desc())
    hits = defaultdict(list)
    for hit in (
        TrackingEvent.objects.filter(message_id__in=[m.pk for m in messages])
        .select_related("link")
        .annotate(n=latest)
        .filter(n__lte=HITS_SHOWN)
        .order_by("message_id", "-at", "-pk")
    ):
        hits[hit.message_id].append(hit)
    for message in messages:
        mine = hits[message.pk]
        message.hits_people = [h for h in mine if h.reason == TrackingReason.HUMAN]
        message.hits_other = [h for h in mine if h.reason != TrackingReason.HUMAN]
        counted = message.engagement
        total = counted.human_opens + counted.human_clicks + counted.other_total
        message.hits_more = max(total - len(mine), 0)
