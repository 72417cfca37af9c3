"""The forms of the reading pane: assign, snooze, internal comment, reply."""

from django import forms
from django.utils.translation import gettext_lazy as _

from mailboxes.conversations import listing


class AssignForm(forms.Form):
    """Nobody, the inbox's team as a whole, or one of its members."""

    prefix = "assign"
    TEAM = "team"

    assignee = forms.ChoiceField(label=_("Assign to"), required=False)

    def __init__(self, *args, members=(), team=None, **kwargs):
        super().__init__(*args, **kwargs)
        choices = [("", _("Nobody"))]
        if team is not None:
            choices.append((self.TEAM, _("The %(team)s team") % {"team": team.name}))
        choices += [(str(u.pk), u.display_name) for u in members]
        self.fields["assignee"].choices = choices

    @classmethod
    def current(cls, conversation) -> str:
        if conversation.assignee_id:
            return str(conversation.assignee_id)
        return cls.TEAM if conversation.assignee_team_id else ""


class PriorityForm(forms.Form):
    """A help-desk conversation's ticket priority."""

    prefix = "priority"

    priority = forms.ChoiceField(label=_("Priority"), choices=listing.PRIORITIES.items())


class SnoozeForm(forms.Form):
    prefix = "snooze"

    until = forms.DateTimeField(
        label=_("Snooze until"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )


class CommentForm(forms.Form):
    prefix = "comment"

    text = forms.CharField(
        label=_("Internal comment"),
        help_text=_("Only your team sees it; it is never emailed. @username notifies a teammate."),
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=10_000,
    )


class ReplyForm(forms.Form):
    prefix = "reply"

    to = forms.CharField(label=_("To"), max_length=2000)
    cc = forms.CharField(label=_("Cc"), max_length=2000, required=False)
    subject = forms.CharField(label=_("Subject"), max_length=500, required=False)
    text = forms.CharField(label=_("Message"), widget=forms.Textarea(attrs={"rows": 6}))
    # What the pane showed when the reply was started (presence.latest_link), and the answer
    # to the warning that a teammate is replying or replied meanwhile.
    since = forms.IntegerField(required=False, widget=forms.HiddenInput, min_value=0)
    send_anyway = forms.BooleanField(label=_("Send mine anyway"), required=False)

    @staticmethod
    def addresses(value: str) -> list[str]:
        return [a for a in (part.strip() for part in value.replace(";", ",").split(",")) if a]


class ForwardForm(forms.Form):
    """Forward the conversation's latest email, its files with it."""

    prefix = "forward"

    to = forms.CharField(label=_("Forward to"), max_length=2000)
    text = forms.CharField(
        label=_("Note"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
