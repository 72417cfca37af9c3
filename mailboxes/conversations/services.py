"""What a teammate does to a conversation: assign, close and reopen, snooze, comment, reply.

Each checks who may (the inbox's routing, `access.py`; a View-only seat looks only) and what
was asked (an assignee outside the inbox's team, a snooze in the past, an empty comment),
refusing with `ConversationError` in words and changing nothing. Every change moves the
conversation's `updated_at`, so teammates' lists pick it up at their next poll.

A reply goes through the composer's own send path (`composer.drafts.email_submit`): the
team address as From with the inbox's name, the privacy check, tracking, logging on the
contact, the enqueue service; the email is filed into the conversation at once.
"""

import re

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape, linebreaks
from django.utils.translation import gettext as _

from mailboxes.composer import attachments, prefill
from mailboxes.composer.drafts import ComposeError, Draft, email_submit
from mailboxes.constants import ConversationStatus
from mailboxes.conversations import access, filing, routing, tickets
from mailboxes.models import Conversation, ConversationComment, ConversationMessage, EmailMessage
from records import notifications
from records.constants import TicketPriority

MENTION = re.compile(r"(?<![\w.@])@([\w.+-]+)")


class ConversationError(ValidationError):
    """A change refused, with why (keyed by form field)."""


def _may_change(actor) -> None:
    if not actor.can_edit_records:
        raise PermissionDenied(_("A View-only seat cannot change conversations."))


def _touch(conversation: Conversation, **fields) -> None:
    for name, value in fields.items():
        setattr(conversation, name, value)
    conversation.save(update_fields=[*fields, "updated_at"])


def link_path(conversation: Conversation) -> str:
    url = reverse("mailboxes:conversations-inbox", args=[conversation.mailbox_id])
    return f"{url}?c={conversation.pk}"


def assign(actor, conversation: Conversation, assignee_id: int | None) -> None:
    """Assign to a member of the inbox's team (or to nobody)."""
    _may_change(actor)
    if assignee_id is None:
        _touch(conversation, assignee=None, assignee_team=None)
        return
    assignee = access.members(conversation.mailbox).filter(pk=assignee_id).first()
    if assignee is None:
        raise ConversationError(
            {"assignee": _("Choose a member of the team this inbox is routed to.")}
        )
    _touch(conversation, assignee=assignee, assigned_at=timezone.now())
    if assignee.pk != actor.pk:
        notifications.notify(
            assignee,
            _("Conversation assigned to you: %(subject)s") % {"subject": conversation.subject},
            _("%(who)s assigned you a conversation with %(with)s.")
            % {"who": actor.display_name, "with": conversation.counterpart},
            link_path(conversation),
        )


def assign_team(actor, conversation: Conversation) -> None:
    """Give the conversation back to the inbox's team as a whole (nobody in particular)."""
    _may_change(actor)
    team_id = conversation.mailbox.team_inbox.route_to_team_id
    if team_id is None:
        raise ConversationError({"assignee": _("This inbox is routed to no team.")})
    _touch(conversation, assignee=None, assignee_team_id=team_id)


def set_status(actor, conversation: Conversation, status: str) -> None:
    _may_change(actor)
    if status not in ConversationStatus.values:
        raise ConversationError({"status": _("Unknown status.")})
    _touch(conversation, status=status, snoozed_until=None)
    tickets.ticket_follows(conversation, status)
    if status == ConversationStatus.CLOSED and conversation.assignee_id:
        # A place under the cap is free: a conversation waiting for one is given out.
        routing.assign_waiting([conversation.mailbox_id])


def set_priority(actor, conversation: Conversation, priority: str) -> None:
    """Set the priority of a help-desk conversation's ticket (records' own save path)."""
    _may_change(actor)
    ticket = tickets.visible_ticket(actor, conversation)
    if ticket is None:
        raise ConversationError({"priority": _("This conversation has no ticket you can change.")})
    if priority not in TicketPriority.values:
        raise ConversationError({"priority": _("Choose one of the priorities listed.")})
    with transaction.atomic():
        if tickets.set_priority(ticket, priority):
            _touch(conversation)  # the list's priority badge: teammates' polls see it


def snooze(actor, conversation: Conversation, until) -> None:
    """Hide the conversation until `until`; it comes back on its own then (listing.awake)."""
    _may_change(actor)
    if until is None or until <= timezone.now():
        raise ConversationError({"until": _("Choose a time in the future.")})
    _touch(conversation, snoozed_until=until, status=ConversationStatus.OPEN)


def unsnooze(actor, conversation: Conversation) -> None:
    _may_change(actor)
    _touch(conversation, snoozed_until=None)


def wake_due(now=None) -> int:
    """End the snoozes that are over. The list already shows them (`listing.awake`); this
    moves their `updated_at`, so the teammates' polls see them come back."""
    return Conversation.objects.filter(snoozed_until__lte=now or timezone.now()).update(
        snoozed_until=None, updated_at=timezone.now()
    )


def mentioned(conversation: Conversation, text: str) -> list:
    """The users an internal comment names (@username) among those who work the inbox."""
    names = {m.lower().rstrip(".") for m in MENTION.findall(text)}
    if not names:
        return []
    return [u for u in access.members(conversation.mailbox) if u.username.lower() in names]


def comment(actor, conversation: Conversation, text: str) -> ConversationComment:
    """An internal comment: stored on the conversation, emailed to nobody; each teammate it
    @mentions gets a notification from the product (records/notifications.py)."""
    _may_change(actor)
    text = text.strip()
    if not text:
        raise ConversationError({"text": _("Write a comment first.")})
    with transaction.atomic():
        note = ConversationComment.objects.create(
            conversation=conversation, author=actor, text=text
        )
        people = [u for u in mentioned(conversation, text) if u.pk != actor.pk]
        note.mentioned.set(people)
        _touch(conversation)
        if conversation.ticket_id:
            # A help-desk conversation's comment stays on its ticket too: a note there.
            tickets.note(actor, conversation, text)
        for user in people:
            notifications.notify(
                user,
                _("%(who)s mentioned you: %(subject)s")
                % {"who": actor.display_name, "subject": conversation.subject},
                text,
                link_path(conversation),
            )
    return note


def _latest(conversation: Conversation) -> EmailMessage | None:
    return (
        EmailMessage.objects.filter(
            pk__in=ConversationMessage.objects.filter(conversation=conversation).values(
                "message_id"
            )
        )
        .order_by("-sent_at", "-pk")
        .first()
    )


def _send(actor, conversation: Conversation, *, answers: bool, text: str, **draft) -> EmailMessage:
    """Send from the team address through the composer's send path (`email_submit`: its
    checks, the privacy check, tracking, logging, the enqueue service) and file the email in
    the conversation at once. On a help-desk ticket the email is the ticket's: logged on it,
    and sent as a ticket reply (no legal basis needed)."""
    mailbox = conversation.mailbox
    with transaction.atomic():
        message = email_submit(
            Draft(
                sender=actor,
                from_key=f"{mailbox.pk}:{mailbox.email}",
                html=linebreaks(escape(text)) + draft.pop("quoted", ""),
                records=[r for r in (conversation.contact, conversation.ticket) if r is not None],
                **draft,
            )
        )
        filing.file_into(conversation, message, answers=answers)
    return message


def forward(actor, conversation: Conversation, *, to, text: str) -> EmailMessage:
    """Forward the conversation's latest email (its files too). Filed in the conversation,
    it answers nobody: the wait on the team goes on."""
    _may_change(actor)
    latest = _latest(conversation)
    if latest is None:
        raise ComposeError({"to": _("There is no email to forward.")})
    kept = attachments.forwarded(latest)
    _listed, files = attachments.resolve(actor, [k.value for k in kept], latest)
    return _send(
        actor,
        conversation,
        answers=False,
        text=text,
        quoted=prefill.forward_body(latest),
        to=list(to),
        subject=f"Fwd: {latest.subject}" if latest.subject else "Fwd:",
        attachments=files,
        forward_of=latest,
    )


def reply(actor, conversation: Conversation, *, to, cc, subject: str, text: str) -> EmailMessage:
    """Reply in the thread; raises ComposeError (keyed by field) for what the composer
    refuses, the privacy check's refusals included."""
    _may_change(actor)
    if not text.strip():
        raise ComposeError({"text": _("Write a message: the email's body is empty.")})
    return _send(
        actor,
        conversation,
        answers=True,
        text=text,
        to=list(to),
        cc=list(cc),
        subject=subject,
        reply_to=_latest(conversation),
    )
