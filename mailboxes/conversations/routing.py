"""Fair assignment: a round-robin team inbox gives each new conversation to the next member
of its team who is working now (their working hours, `records/calendar`) and has fewer open
conversations than the inbox's cap, the one whose last assignment in the inbox is oldest
first. A conversation nobody could take waits, unassigned with the team, and is given out as
soon as someone is free: when a conversation is closed, and by beat's minute job (working
hours that begin). The team inbox's row is locked while it chooses, so two new
conversations never both count the same free place.
"""

from django.db import transaction
from django.db.models import Count, Max, Q
from django.utils import timezone

from mailboxes.constants import ConversationStatus
from mailboxes.conversations import listing
from mailboxes.models import Conversation, Mailbox, TeamInbox
from records.calendar.clock import Calendar
from records.constants import Seat


def _round_robin(mailbox: Mailbox) -> bool:
    inbox = mailbox.team_inbox
    return bool(inbox and inbox.round_robin and inbox.route_to_team_id)


def free_members(mailbox: Mailbox, now) -> list:
    """The team's members who may take a conversation now, next in turn first."""
    inbox = mailbox.team_inbox
    members = list(
        inbox.route_to_team.members.filter(is_active=True)
        .exclude(seat=Seat.VIEW_ONLY)
        .order_by("username")
    )
    account = Calendar.for_account()
    working = [u for u in members if Calendar.for_user(u, account).is_open(now)]
    if not working:
        return []
    rows = (
        Conversation.objects.filter(mailbox=mailbox, assignee__in=working)
        .values("assignee")
        .annotate(
            open=Count("pk", filter=Q(status=ConversationStatus.OPEN)),
            last=Max("assigned_at"),
        )
    )
    load = {r["assignee"]: r for r in rows}
    cap = inbox.open_cap
    free = [u for u in working if cap is None or load.get(u.pk, {}).get("open", 0) < cap]
    epoch = timezone.now().replace(year=1970)
    return sorted(free, key=lambda u: (load.get(u.pk, {}).get("last") or epoch, u.username))


def _give(conversation: Conversation, user, now) -> None:
    conversation.assignee, conversation.assigned_at = user, now
    conversation.save(update_fields=["assignee", "assigned_at", "updated_at"])


def assign_new(conversation: Conversation, now=None) -> bool:
    """Give a new conversation of a round-robin inbox to the next free member; False when
    nobody is free (it waits with the team)."""
    mailbox = conversation.mailbox
    if not _round_robin(mailbox) or conversation.assignee_id:
        return False
    now = now or timezone.now()
    with transaction.atomic():
        TeamInbox.objects.select_for_update().filter(pk=mailbox.team_inbox_id).first()
        free = free_members(mailbox, now)
        if not free:
            return False
        _give(conversation, free[0], now)
        return True


def reassign_unanswered(now=None) -> int:
    """In round-robin inboxes with "reassign when unanswered", give a conversation whose
    assignee has not answered within that many working minutes (counted from the customer's
    email, or from the last assignment if later) to the next free teammate; return how many
    moved. One nobody else can take stays where it is."""
    now = now or timezone.now()
    boxes = Mailbox.objects.filter(
        team_inbox__round_robin=True,
        team_inbox__route_to_team__isnull=False,
        team_inbox__reassign_after_minutes__isnull=False,
    ).select_related("team_inbox__route_to_team")
    moved = 0
    calendar = None
    for mailbox in boxes:
        calendar = calendar or Calendar.for_account()
        minutes = mailbox.team_inbox.reassign_after_minutes
        with transaction.atomic():
            TeamInbox.objects.select_for_update().filter(pk=mailbox.team_inbox_id).first()
            late = Conversation.objects.filter(
                mailbox=mailbox,
                status=ConversationStatus.OPEN,
                assignee__isnull=False,
                awaiting_since__isnull=False,
                awaiting_since__lte=now,
            ).filter(listing.awake(now))
            for conversation in late.order_by("awaiting_since", "pk"):
                since = max(
                    conversation.awaiting_since,
                    conversation.assigned_at or conversation.awaiting_since,
                )
                if calendar.add_business_minutes(since, minutes) > now:
                    continue
                free = [u for u in free_members(mailbox, now) if u.pk != conversation.assignee_id]
                if free:
                    _give(conversation, free[0], now)
                    moved += 1
    return moved


def assign_waiting(mailbox_ids=None, now=None) -> int:
    """Give out the conversations waiting in round-robin inboxes, oldest first, while someone
    is free; return how many were given."""
    now = now or timezone.now()
    boxes = Mailbox.objects.filter(
        team_inbox__round_robin=True, team_inbox__route_to_team__isnull=False
    ).select_related("team_inbox__route_to_team")
    if mailbox_ids is not None:
        boxes = boxes.filter(pk__in=list(mailbox_ids))
    given = 0
    for mailbox in boxes:
        with transaction.atomic():
            TeamInbox.objects.select_for_update().filter(pk=mailbox.team_inbox_id).first()
            waiting = Conversation.objects.filter(
                mailbox=mailbox,
                status=ConversationStatus.OPEN,
                assignee__isnull=True,
                assignee_team_id=mailbox.team_inbox.route_to_team_id,
            ).filter(listing.awake(now))
            for conversation in waiting.order_by("created_at", "pk"):
                free = free_members(mailbox, now)
                if not free:
                    break
                _give(conversation, free[0], now)
                given += 1
    return given
