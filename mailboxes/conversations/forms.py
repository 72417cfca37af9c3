"""The forms of the reading pane: assign, snooze, internal comment, reply."""

from django import forms
from django.utils.translation import gettext_lazy as _


class AssignForm(forms.Form):
    prefix = "assign"

    assignee = forms.TypedChoiceField(
        label=_("Assign to"), coerce=int, empty_value=None, required=False
    )

    def __init__(self, *args, members=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].choices = [("", _("Nobody"))] + [
            (u.pk, u.display_name) for u in members
        ]


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

    @staticmethod
    def addresses(value: str) -> list[str]:
        return [a for a in (part.strip() for part in value.replace(";", ",").split(",")) if a]
