"""A help-desk inbox's conversations are tickets: a new conversation opens one (owned by its
assignee, associated with its contact), every email of the conversation is on the ticket's
timeline, replies are logged on it (and, being ticket email, need no legal basis), and
closing either closes the other: the conversation through `set_status`, the ticket through
records' `record_changed` (a rep saving the ticket's status), heard in receivers.py. Its
priority is set from the pane as a rep's edit is: saved by `record_save`, `record_changed` sent.
"""

from django.utils.translation import gettext as _

from mailboxes.constants import ConversationStatus, TeamInboxKind
from mailboxes.models import Conversation, EmailMessage
from records import timeline
from records.access import visible_to
from records.constants import RecordKind, TicketPriority, TicketStatus
from records.models import Ticket
from records.services import association_create, note_create, record_save
from records.signals import RecordChanged, record_changed, send_on_commit


def help_desk(conversation: Conversation) -> bool:
    inbox = conversation.mailbox.team_inbox
    return inbox is not None and inbox.kind == TeamInboxKind.HELP_DESK


def open_ticket(conversation: Conversation) -> Ticket:
    ticket = record_save(
        Ticket(
            name=(conversation.subject or _("(no subject)"))[:255],
            owner_id=conversation.assignee_id,
            status=TicketStatus.WAITING_US,
            description="",
        )
    )
    if conversation.contact is not None:
        association_create(ticket, conversation.contact)
    Conversation.objects.filter(pk=conversation.pk).update(ticket=ticket)
    conversation.ticket = ticket
    return ticket


def on_ticket(conversation: Conversation, message: EmailMessage) -> None:
    """Put a conversation's email on its ticket's timeline. A help-desk conversation the team
    started (an email from the help-desk address on a record, which opened its ticket then:
    composer/drafts.thread_for) takes the ticket its first email is on."""
    if not message.activity_id:
        return
    if not conversation.ticket_id and help_desk(conversation):
        ticket_id = (
            Ticket.objects.filter(activity_links__activity_id=message.activity_id)
            .values_list("pk", flat=True)
            .first()
        )
        if ticket_id is not None:
            Conversation.objects.filter(pk=conversation.pk).update(ticket_id=ticket_id)
            conversation.ticket_id = ticket_id
    if conversation.ticket_id:
        timeline.link([message.activity_id], conversation.ticket_id)


def note(actor, conversation: Conversation, text: str) -> None:
    """An internal comment, as a note on the ticket's timeline (never emailed either)."""
    ticket = Ticket.objects.filter(pk=conversation.ticket_id).first()
    if ticket is not None:
        note_create(actor, ticket, text)


def visible_ticket(user, conversation: Conversation) -> Ticket | None:
    """The conversation's ticket, if the user's record access shows it."""
    if not conversation.ticket_id:
        return None
    return visible_to(user, Ticket.objects.filter(pk=conversation.ticket_id)).first()


def set_priority(ticket: Ticket, priority: str) -> bool:
    """Save the ticket's priority as a rep's edit would (records' `record_changed` with what
    changed, on commit). Returns whether it changed."""
    if priority not in TicketPriority.values:
        raise ValueError(priority)
    old = ticket.priority
    if old == priority:
        return False
    ticket.priority = priority
    record_save(ticket)
    send_on_commit(
        record_changed,
        "records",
        RecordChanged(ticket.pk, ticket.kind, {"priority": (old, priority)}),
    )
    return True


def ticket_follows(conversation: Conversation, status: str) -> None:
    """The conversation was closed or reopened: its ticket too."""
    if not conversation.ticket_id:
        return
    ticket = Ticket.objects.filter(pk=conversation.ticket_id).first()
    if ticket is None:
        return
    wanted = TicketStatus.CLOSED if status == ConversationStatus.CLOSED else TicketStatus.WAITING_US
    if (ticket.status == TicketStatus.CLOSED) != (wanted == TicketStatus.CLOSED):
        ticket.status = wanted
        record_save(ticket)


def conversation_follows(ticket_id: int, old: str, new: str) -> int:
    """A rep changed the ticket's status: closing it closes its conversations, reopening it
    reopens them. Returns how many changed."""
    if (old == TicketStatus.CLOSED) == (new == TicketStatus.CLOSED):
        return 0
    status = ConversationStatus.CLOSED if new == TicketStatus.CLOSED else ConversationStatus.OPEN
    changed = 0
    for conversation in Conversation.objects.filter(ticket_id=ticket_id).exclude(status=status):
        conversation.status, conversation.snoozed_until = status, None
        conversation.save(update_fields=["status", "snoozed_until", "updated_at"])
        changed += 1
    return changed


def is_ticket(kind: str) -> bool:
    return kind == RecordKind.TICKET
