"""Put a team inbox's messages into conversations: the one place conversations are made.

A message joins the conversation of the message it replies to (In-Reply-To, else the newest
References entry that names a message of one of the inbox's conversations), with one
exception: a reply to an email the team sent to start a thread (no In-Reply-To, no
References) from someone other than that conversation's correspondent starts a conversation
of its own, with the email it answers shown first. So separate people replying to one
outgoing email are separate conversations, and a colleague copied into a conversation stays
in it. A message that replies to nothing of the inbox starts a conversation with its sender
(incoming) or its first recipient (outgoing).

Filing is idempotent: a message already filed changes nothing, so the signal receivers, the
reply service and the backfill may all call it.
"""

from collections.abc import Iterable

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from mailboxes.constants import ConversationStatus, Direction, MailboxKind
from mailboxes.conversations import routing, tickets
from mailboxes.models import Conversation, ConversationMessage, EmailMessage, Mailbox
from mailboxes.sync.decide import own_addresses
from records import selectors
from records.bulk import AnyOf
from records.calendar.clock import Calendar, NoOpenHours

BACKFILL_BATCH = 500


def file_messages(message_ids: Iterable[int]) -> int:
    """File those of the messages that belong to a team inbox; return how many were new."""
    messages = list(
        EmailMessage.objects.filter(
            AnyOf(F("pk"), list(message_ids)), mailbox__kind=MailboxKind.TEAM
        )
        .exclude(pk__in=ConversationMessage.objects.values("message_id"))
        .select_related("mailbox__team_inbox")
        .order_by("sent_at", "pk")
    )
    filed = 0
    mine: dict[int, set[str]] = {}
    for message in messages:
        if message.mailbox_id not in mine:
            mine[message.mailbox_id] = own_addresses(message.mailbox)
        with transaction.atomic():
            if _file(message, mine[message.mailbox_id]):
                filed += 1
    return filed


def _refs(message: EmailMessage) -> list[str]:
    """The ids a message points to, its parent first (sync/threads.py, rule 5)."""
    refs = [message.in_reply_to] if message.in_reply_to else []
    refs += reversed(message.references.split())
    return list(dict.fromkeys(r for r in refs if r))


def starts_thread(message: EmailMessage) -> bool:
    return not message.in_reply_to and not message.references.strip()


def _file(message: EmailMessage, mine: set[str]) -> bool:
    mailbox = message.mailbox
    refs = _refs(message)
    parent = None
    if refs:
        links = {
            link.message.message_id: link
            for link in ConversationMessage.objects.filter(
                conversation__mailbox=mailbox, message__message_id__in=refs
            )
            .select_related("message", "conversation")
            .order_by("pk")
        }
        parent = next((links[r] for r in refs if r in links), None)
    if message.direction == Direction.INCOMING:
        counterpart, name = message.from_addr.lower(), message.from_name
    else:
        others = [a for a in (*message.to_addrs, *message.cc_addrs) if a.lower() not in mine]
        counterpart, name = (others[0].lower() if others else ""), ""
    also = None  # the team's thread-starting email a new correspondent answers
    if parent is not None and (
        message.direction == Direction.OUTGOING
        or not starts_thread(parent.message)
        or parent.message.direction == Direction.INCOMING
        or parent.conversation.counterpart == counterpart
    ):
        conversation = parent.conversation
    else:
        if parent is not None:
            also = parent.message
        conversation = _conversation_for(mailbox, also or message, counterpart, name)
    try:
        with transaction.atomic():
            ConversationMessage.objects.create(conversation=conversation, message=message)
    except IntegrityError:
        return False  # filed meanwhile by another caller
    if also is not None:
        ConversationMessage.objects.get_or_create(conversation=conversation, message=also)
        tickets.on_ticket(conversation, also)
    _apply(conversation, message, name)
    return True


def file_into(conversation: Conversation, message: EmailMessage, *, answers=True) -> None:
    """File `message` (written in the inbox) into `conversation` itself. A forward
    (`answers=False`) shows there but is no answer to the correspondent."""
    _, created = ConversationMessage.objects.get_or_create(
        conversation=conversation, message=message
    )
    if created:
        _apply(conversation, message, "", answers=answers)


def _conversation_for(mailbox: Mailbox, message, counterpart: str, name: str) -> Conversation:
    """The conversation of `message`'s thread with `counterpart`, made when missing (named
    after `message`: the first email of the exchange)."""
    at = message.sent_at or message.created_at or timezone.now()
    team_inbox = mailbox.team_inbox
    conversation, created = Conversation.objects.get_or_create(
        mailbox=mailbox,
        thread_id=message.thread_id,
        counterpart=counterpart,
        defaults={
            "counterpart_name": name[:255],
            "subject": (message.subject or "")[:500],
            "last_activity_at": at,
            # Routing (Settings > Team inboxes): a fixed owner, else the team.
            "assignee_id": team_inbox.route_to_user_id if team_inbox else None,
            "assignee_team_id": (
                team_inbox.route_to_team_id
                if team_inbox and not team_inbox.route_to_user_id
                else None
            ),
        },
    )
    if created and message.direction == Direction.INCOMING:
        routing.assign_new(conversation)
        if tickets.help_desk(conversation):
            if conversation.contact_id is None:
                conversation.contact_id = selectors.contacts_by_address([counterpart]).get(
                    counterpart
                )
            tickets.open_ticket(conversation)
    return conversation


def _apply(conversation: Conversation, message: EmailMessage, name: str, answers=True) -> None:
    """What a newly filed message changes: activity, waiting on us, status, contact."""
    at = message.sent_at or message.created_at or timezone.now()
    c = Conversation.objects.select_for_update().get(pk=conversation.pk)
    c.last_activity_at = max(c.last_activity_at, at)
    if message.direction == Direction.INCOMING and not message.is_auto_reply:
        c.last_incoming_at = max(c.last_incoming_at or at, at)
        stored = message.created_at or timezone.now()
        c.last_received_at = max(c.last_received_at or stored, stored)
        if c.awaiting_since is None:
            c.awaiting_since = at
        # New mail reopens a closed conversation and wakes a snoozed one.
        c.status, c.snoozed_until = ConversationStatus.OPEN, None
        if name and not c.counterpart_name:
            c.counterpart_name = name[:255]
    elif message.direction == Direction.OUTGOING and answers and c.awaiting_since is not None:
        if at >= c.awaiting_since:
            minutes = response_minutes(c.awaiting_since, at)
            if c.first_response_at is None:
                c.first_response_at, c.first_response_minutes = at, minutes
            c.last_response_minutes = minutes
            c.awaiting_since = None
    if c.contact_id is None and c.counterpart:
        c.contact_id = selectors.contacts_by_address([c.counterpart]).get(c.counterpart)
    c.save()
    tickets.on_ticket(c, message)


def response_minutes(asked, answered) -> int | None:
    """The working minutes between a correspondent's email and the team's answer, by the
    account's business hours and holidays (None when the calendar has no open hours)."""
    try:
        return round(Calendar.for_account().business_minutes_between(asked, answered))
    except NoOpenHours:
        return None


def backfill(mailbox_ids: Iterable[int] | None = None) -> int:
    """File the already-synced mail of team inboxes (all, or those named) in date order, a
    batch at a time; return how many messages were filed. Safe to run again."""
    boxes = Mailbox.objects.filter(kind=MailboxKind.TEAM)
    if mailbox_ids is not None:
        boxes = boxes.filter(pk__in=list(mailbox_ids))
    filed = 0
    for mailbox_id in boxes.values_list("pk", flat=True):
        ids = list(
            EmailMessage.objects.filter(mailbox_id=mailbox_id)
            .order_by("sent_at", "pk")
            .values_list("pk", flat=True)
        )
        for start in range(0, len(ids), BACKFILL_BATCH):
            filed += file_messages(ids[start : start + BACKFILL_BATCH])
    return filed
