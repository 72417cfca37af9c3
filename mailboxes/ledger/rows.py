"""Which emails the ledger lists, and what each row may show.

Who sees what:
- A rep sees the emails they wrote (`Outbound.sender`); an admin may also ask for everyone's.
- What an email says (subject, recipients, the records it is on, its opens and clicks) follows
  the records it is logged on, as everywhere in the CRM: it shows only to a user who can open
  at least one of them (`records.access.visible_to`); an email the rep chose not to log
  (on no record) shows only to them. A rep's own email on records since
  moved out of their reach is listed with its status and actions, its content hidden
  (`readable` False), and a search never matches it (a match would tell what it says).
  Someone else's email the admin cannot read is not listed at all.
- Only the records the user can open are named on a row.

A page costs the same few queries whatever its length: the rows (with their messages and
tracking rollups), their count, and the records they are on.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import BooleanField, Exists, ExpressionWrapper, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from mailboxes.constants import SendStatus
from mailboxes.models import Outbound
from mailboxes.models.outbound import LEDGER_DATE
from mailboxes.outbox.actions import may_change
from records.access import visible_to
from records.models import ActivityLink, Record
from records.types import type_slug_for

PAGE_SIZE = 25
# Records named on a row; more are counted.
RECORDS_SHOWN = 3

# The status filter: one choice per thing a rep looks for, as (label, statuses); sending is on
# its way like queued, and confirmed from the Sent folder is sent.
STATUSES = {
    "sent": (_("Sent"), (SendStatus.SENT, SendStatus.RECONCILED)),
    "scheduled": (_("Scheduled"), (SendStatus.SCHEDULED,)),
    "queued": (_("Queued"), (SendStatus.QUEUED, SendStatus.DEFERRED, SendStatus.SENDING)),
    "failed": (_("Failed"), (SendStatus.FAILED,)),
    "uncertain": (_("Uncertain"), (SendStatus.UNCERTAIN,)),
    "checking": (_("Checking"), (SendStatus.CHECKING,)),
    "cancelled": (_("Cancelled"), (SendStatus.CANCELLED,)),
}


@dataclass(frozen=True)
class Filters:
    status: str = ""
    since: date | None = None
    until: date | None = None
    query: str = ""
    everyone: bool = False  # every sender's (admins only)

    @classmethod
    def from_query(cls, user, params) -> Filters:
        """Read the page's query string; what does not parse is ignored."""
        status = params.get("status", "")
        return cls(
            status=status if status in STATUSES else "",
            since=_date(params.get("since", "")),
            until=_date(params.get("until", "")),
            query=params.get("q", "").strip()[:200],
            everyone=user.is_staff and params.get("who") == "everyone",
        )


def _date(value: str) -> date | None:
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _start_of(day: date) -> datetime:
    """Midnight of `day` in the viewer's time zone: the dates they pick are their own."""
    return timezone.make_aware(datetime.combine(day, time.min))


def ledger(user, filters: Filters) -> QuerySet[Outbound]:
    """The emails `user` may see in the ledger, filtered, newest first; each row carries
    `date` (sent, scheduled or else written) and `readable`."""
    # Correlated on the row's activity: the planner may probe each row's links by index
    # rather than read every link of every record the user can see.
    on_readable_record = Exists(
        visible_to(
            user,
            Record.objects.filter(activity_links__activity_id=OuterRef("message__activity_id")),
        )
    )
    # An email not logged is on no record: it is its sender's alone.
    readable = ExpressionWrapper(
        on_readable_record | Q(message__activity__isnull=True, sender=user),
        output_field=BooleanField(),
    )
    rows = Outbound.objects.annotate(date=LEDGER_DATE, readable=readable)
    if filters.everyone:
        rows = rows.filter(Q(sender=user) | Q(readable=True))
    else:
        rows = rows.filter(sender=user)
    if filters.status:
        rows = rows.filter(status__in=STATUSES[filters.status][1])
    if filters.since:
        rows = rows.filter(date__gte=_start_of(filters.since))
    if filters.until:
        rows = rows.filter(date__lt=_start_of(filters.until + timedelta(days=1)))
    if filters.query:
        rows = rows.filter(readable=True).filter(
            Q(message__subject__icontains=filters.query) | Q(recipients__icontains=filters.query)
        )
    return rows.select_related("message", "message__tracking", "sender").order_by("-date", "-pk")


def describe(user, rows: list[Outbound]) -> None:
    """Attach what each row shows: whether it is `logged`, the `records` it is on that `user`
    can open (as (slug, record)), how many more, its `engagement` (opens and clicks once it
    went out) and whether `user` may change its sending."""
    activity_ids = [row.message.activity_id for row in rows if row.readable]
    on = defaultdict(list)
    if activity_ids:
        links = (
            ActivityLink.objects.filter(
                activity_id__in=activity_ids,
                record__in=visible_to(user, Record.objects.all()),
            )
            .select_related("record", "record__custom_type")
            .order_by("activity_id", "pk")
        )
        for link in links:
            on[link.activity_id].append((type_slug_for(link.record), link.record))
    for row in rows:
        row.logged = row.message.activity_id is not None
        records = on[row.message.activity_id] if row.readable else []
        row.records, row.more_records = records[:RECORDS_SHOWN], len(records[RECORDS_SHOWN:])
        tracking = getattr(row.message, "tracking", None)
        row.engagement = tracking if row.readable and row.went_out else None
        row.may_change = may_change(user, row)
