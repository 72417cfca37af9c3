"""Who else is on a conversation: each open reading pane reports every few seconds whether
its user is viewing or writing a reply; the others see it, and a reply sent while a teammate
is writing one, or after a teammate's reply arrived, is held back once with a warning.

In the database (one row per user and conversation, upserted), not in the broker or a cache:
it survives their restarts and every web process sees the same thing.
"""

from datetime import timedelta

from django.utils import timezone

from mailboxes.constants import Direction
from mailboxes.models import ConversationMessage, ConversationPresence

FRESH = timedelta(seconds=30)  # three missed reports and a pane counts as closed
STATES = (ConversationPresence.VIEWING, ConversationPresence.REPLYING)


def report(user, conversation, state: str) -> None:
    state = state if state in STATES else ConversationPresence.VIEWING
    ConversationPresence.objects.update_or_create(
        conversation=conversation,
        user=user,
        defaults={"state": state, "seen_at": timezone.now()},
    )


def leave(user, conversation) -> None:
    ConversationPresence.objects.filter(conversation=conversation, user=user).delete()


def others(user, conversation) -> list[ConversationPresence]:
    """The teammates on the conversation now, those replying first."""
    rows = (
        ConversationPresence.objects.filter(
            conversation=conversation, seen_at__gte=timezone.now() - FRESH
        )
        .exclude(user=user)
        .select_related("user")
        .order_by("-state", "user__username")  # "viewing" < "replying"
    )
    return list(rows)


def latest_link(conversation) -> int:
    """A mark of what the pane showed: the newest filed message's link id (0: none)."""
    newest = (
        ConversationMessage.objects.filter(conversation=conversation)
        .order_by("-pk")
        .values_list("pk", flat=True)
        .first()
    )
    return newest or 0


def second_answer(user, conversation, since: int) -> tuple[list[str], bool]:
    """Why sending now may answer twice: the teammates writing a reply, and whether a reply
    was filed after the pane was shown (`since`, its `latest_link`)."""
    replying = [
        p.user.display_name
        for p in others(user, conversation)
        if p.state == ConversationPresence.REPLYING
    ]
    answered = ConversationMessage.objects.filter(
        conversation=conversation, pk__gt=since, message__direction=Direction.OUTGOING
    ).exists()
    return replying, answered
