"""The conversations inbox: one conversation per correspondent of a thread in a team inbox.

Filled by `mailboxes/conversations/filing.py` from synced and sent mail (never by sync itself:
the sub-package hears mailboxes' signals). `updated_at` moves with every change a teammate
should see (new mail, assignment, status, snooze, comment): the inbox's poll reads its maximum
from the `conversation_changed` index, so an unchanged inbox answers 304 from one query.
"""

from django.conf import settings
from django.db import models

from mailboxes.constants import ConversationStatus
from mailboxes.models.inboxes import Mailbox
from mailboxes.models.messages import EmailMessage, EmailThread
from records.models import Contact, Team, Ticket


class Conversation(models.Model):
    """The exchange of one team inbox with one correspondent in one thread.

    Separate people replying to one email the team sent are separate conversations (their
    `counterpart` differs); a message replying to a message of a conversation joins it.
    """

    mailbox = models.ForeignKey(Mailbox, on_delete=models.CASCADE, related_name="+")
    thread = models.ForeignKey(EmailThread, on_delete=models.CASCADE, related_name="+")
    counterpart = models.CharField(max_length=320, blank=True)  # lowercased address
    counterpart_name = models.CharField(max_length=255, blank=True)
    contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    subject = models.CharField(max_length=500, blank=True)
    status = models.CharField(
        max_length=10, choices=ConversationStatus.choices, default=ConversationStatus.OPEN
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    assigned_at = models.DateTimeField(null=True, blank=True)  # round robin's turn order
    assignee_team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    snoozed_until = models.DateTimeField(null=True, blank=True)
    # A help-desk inbox's conversation is a ticket (mailboxes/conversations/tickets.py).
    ticket = models.ForeignKey(
        Ticket, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_activity_at = models.DateTimeField()  # the newest message's date: the list's order
    last_incoming_at = models.DateTimeField(null=True, blank=True)
    # When the CRM stored the correspondent's newest email (its date may be older): a user
    # whose read marker is older has not read it.
    last_received_at = models.DateTimeField(null=True, blank=True)
    # The correspondent's oldest message the team has not answered yet: "waiting on us".
    awaiting_since = models.DateTimeField(null=True, blank=True)
    # Response-time bookkeeping (issue 16, point 4 fills the working-minute counts).
    first_response_at = models.DateTimeField(null=True, blank=True)
    first_response_minutes = models.PositiveIntegerField(null=True, blank=True)
    last_response_minutes = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["mailbox", "thread", "counterpart"], name="conversation_unique"
            )
        ]
        indexes = [
            models.Index(fields=["mailbox", "updated_at"], name="conversation_changed"),
            models.Index(fields=["mailbox", "-last_activity_at"], name="conversation_recent"),
        ]

    def __str__(self):
        return self.subject or f"conversation {self.pk}"


class ConversationMessage(models.Model):
    """A message shown in a conversation. The email the team sent to several people starts
    each of their conversations, so it may be in more than one."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="links")
    message = models.ForeignKey(EmailMessage, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["conversation", "message"], name="conversation_message_unique"
            )
        ]

    def __str__(self):
        return f"{self.conversation_id}: {self.message_id}"


class ConversationRead(models.Model):
    """Until when a user has read a conversation: newer incoming mail is unread for them."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    read_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["conversation", "user"], name="conversation_read_unique"
            )
        ]
        indexes = [models.Index(fields=["user", "read_at"], name="conversation_read_latest")]

    def __str__(self):
        return f"{self.user_id} read {self.conversation_id} until {self.read_at}"


class ConversationComment(models.Model):
    """An internal comment: seen by the team in the conversation, never emailed."""

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="comments"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    text = models.TextField()
    mentioned = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self):
        return self.text[:50]


class ConversationPresence(models.Model):
    """Who has a conversation open, and whether they are writing a reply: each open pane
    tells every few seconds (`seen_at`), so teammates see "Sara is replying" and are warned
    before sending a second answer. A row older than `presence.FRESH` counts for nothing."""

    VIEWING, REPLYING = "viewing", "replying"

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    state = models.CharField(max_length=10)
    seen_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["conversation", "user"], name="conversation_presence_unique"
            )
        ]

    def __str__(self):
        return f"{self.user_id} {self.state} {self.conversation_id}"
