"""Who works which conversations inbox: the users its routing names (its team's members, its
fixed owner) and admins. Anything else is a 404, as a record outside one's access is."""

from django.contrib.auth import get_user_model
from django.db.models import Q
from django.http import Http404

from mailboxes.models import Conversation, Mailbox
from mailboxes.models.inboxes import team_mailboxes_for


def inboxes_for(user):
    return team_mailboxes_for(user)


def get_inbox(user, mailbox_id: int) -> Mailbox:
    mailbox = inboxes_for(user).filter(pk=mailbox_id).first()
    if mailbox is None:
        raise Http404("No such inbox")
    return mailbox


def get_conversation(user, pk: int) -> Conversation:
    conversation = (
        Conversation.objects.filter(pk=pk, mailbox__in=inboxes_for(user))
        .select_related("mailbox__team_inbox", "assignee", "assignee_team", "contact")
        .first()
    )
    if conversation is None:
        raise Http404("No such conversation")
    return conversation


def members(mailbox: Mailbox):
    """The users a conversation of the inbox may be assigned to: its team and its owner."""
    team_inbox = mailbox.team_inbox
    return (
        get_user_model()
        .objects.filter(is_active=True)
        .filter(
            Q(team_id=team_inbox.route_to_team_id or -1) | Q(pk=team_inbox.route_to_user_id or -1)
        )
        .order_by("first_name", "username")
    )
