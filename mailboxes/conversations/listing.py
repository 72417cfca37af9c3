"""The list of an inbox's conversations, its filters, and the version its poll compares.

The list is a few queries whatever the inbox's size: one page of conversations with their
assignee, contact and unread state (an EXISTS on the user's read marker), ordered newest
activity first on the `conversation_recent` index. `version` is one query over two indexes
(`conversation_changed`, `conversation_read_latest`): what a teammate changed and what the
user read, so an unchanged inbox answers its poll with 304.
"""

from dataclasses import dataclass

from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from mailboxes.constants import ConversationStatus
from mailboxes.models import Conversation, ConversationRead
from records import db
from records.calendar.clock import Calendar, NoOpenHours

PAGE_SIZE = 50

VIEWS = {
    "open": _("Open"),
    "mine": _("Assigned to me"),
    "unassigned": _("Unassigned"),
    "waiting": _("Waiting on us"),
    "snoozed": _("Snoozed"),
    "closed": _("Closed"),
}

# A ticket's priority as the list's badge says it (TicketPriority's own labels are not
# translated), and the badge's look.
PRIORITIES = {"low": _("Low"), "medium": _("Medium"), "high": _("High"), "urgent": _("Urgent")}
PRIORITY_BADGE = {"high": "warn", "urgent": "danger"}


@dataclass(frozen=True)
class Filters:
    view: str = "open"
    member: int | None = None
    query: str = ""

    @classmethod
    def of(cls, params) -> "Filters":
        view = params.get("view", "open")
        member = params.get("member", "")
        return cls(
            view=view if view in VIEWS else "open",
            member=int(member) if member.isdigit() else None,
            query=params.get("q", "").strip()[:200],
        )

    def params(self) -> dict:
        out = {"view": self.view}
        if self.member:
            out["member"] = self.member
        if self.query:
            out["q"] = self.query
        return out


def awake(now) -> Q:
    return Q(snoozed_until__isnull=True) | Q(snoozed_until__lte=now)


def conversations(user, mailbox, filters: Filters, now=None):
    now = now or timezone.now()
    qs = Conversation.objects.filter(mailbox=mailbox)
    is_open = Q(status=ConversationStatus.OPEN)
    view = filters.view
    if view == "closed":
        qs = qs.filter(status=ConversationStatus.CLOSED)
    elif view == "snoozed":
        qs = qs.filter(is_open, snoozed_until__gt=now)
    else:
        qs = qs.filter(is_open & awake(now))
        if view == "mine":
            qs = qs.filter(assignee=user)
        elif view == "unassigned":
            qs = qs.filter(assignee__isnull=True)
        elif view == "waiting":
            qs = qs.filter(awaiting_since__isnull=False)
    if filters.member:
        qs = qs.filter(assignee_id=filters.member)
    if filters.query:
        q = filters.query
        qs = qs.filter(
            Q(subject__icontains=q)
            | Q(counterpart__icontains=q)
            | Q(counterpart_name__icontains=q)
            | Q(contact__name__icontains=q)
        )
    read = ConversationRead.objects.filter(
        conversation=OuterRef("pk"), user=user, read_at__gte=OuterRef("last_received_at")
    )
    return (
        qs.annotate(seen=Exists(read), ticket_priority=F("ticket__priority"))
        .select_related("assignee", "assignee_team", "contact")
        .order_by("-last_activity_at", "-pk")
    )


SOON = 0.8  # the share of the target after which a waiting conversation is "due soon"


def page(user, mailbox, filters: Filters, now=None) -> list[Conversation]:
    """A page of the list, each row with `unread`, its ticket's `priority` (a label, or None)
    and `priority_badge`, and, against the inbox's response target, `target` ("late", "soon"
    or "") and `minutes_left` (working minutes, negative when late)."""
    now = now or timezone.now()
    rows = list(conversations(user, mailbox, filters, now)[:PAGE_SIZE])
    target = mailbox.team_inbox.response_target_minutes if mailbox.team_inbox_id else None
    calendar = Calendar.for_account() if target else None
    for c in rows:
        c.unread = c.last_received_at is not None and not c.seen
        c.priority = PRIORITIES.get(c.ticket_priority)
        c.priority_badge = PRIORITY_BADGE.get(c.ticket_priority, "")
        c.target, c.minutes_left = "", None
        if calendar is not None and c.awaiting_since and c.status == ConversationStatus.OPEN:
            try:
                waited = calendar.business_minutes_between(c.awaiting_since, now)
            except NoOpenHours:
                continue
            c.minutes_left = round(target - waited)
            c.target = "late" if waited >= target else "soon" if waited >= SOON * target else ""
    return rows


# Time alone changes a list: a conversation nears or passes its response target, "2 hours ago"
# ages. So the version also moves every REFRESH_SECONDS, for every inbox: one full list a
# user each 5 minutes costs less than looking up whether the inbox has a target on every
# poll (a third subquery, a join, which made the poll about 0.15 ms slower).
REFRESH_SECONDS = 300


# Prepared once per connection (records/db.py): the poll is this statement and little else.
_VERSION_SQL = (
    f"SELECT (SELECT MAX(updated_at) FROM {Conversation._meta.db_table} WHERE mailbox_id = %s),"
    f" (SELECT MAX(read_at) FROM {ConversationRead._meta.db_table} WHERE user_id = %s)"
)


def version(mailbox_id: int, user_id: int) -> str:
    """What the inbox's list depends on, in one query over two indexes: the newest change to
    its conversations and the newest read marker of the user; and the clock, in steps of
    REFRESH_SECONDS."""
    changed, read = db.fetchone(_VERSION_SQL, (mailbox_id, user_id))
    tick = int(timezone.now().timestamp()) // REFRESH_SECONDS
    return f"{mailbox_id}-{user_id}-{changed}-{read}-{tick}"


def mark_read(user, conversation: Conversation) -> None:
    ConversationRead.objects.update_or_create(
        conversation=conversation, user=user, defaults={"read_at": timezone.now()}
    )
