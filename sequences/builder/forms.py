"""The builder's forms: a sequence's name and follow-up settings, and its steps (a formset in
page order: a step's position is its place on the page)."""

import html

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils.html import strip_tags
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from mailboxes.composer import library
from mailboxes.composer.forms import RichTextarea
from mailboxes.models import EmailTemplate
from sequences.constants import MAX_DELAY_DAYS, StepKind
from sequences.models import Sequence

from . import rules

STEP_PREFIX = "steps"


class SequenceForm(forms.ModelForm):
    class Meta:
        model = Sequence
        fields = [
            "name",
            "business_days_only",
            "window_start",
            "window_end",
            "unenroll_on_reply",
            "unenroll_on_meeting",
            "unenroll_company_on_reply",
            "task_reminders",
        ]
        widgets = {
            "window_start": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "window_end": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        }
        help_texts = {
            "window_start": _("Emails go out between these times, in each contact's time zone. "
                              "Leave both empty for the account's business hours."),
            "task_reminders": _("Email each task's owner when a sequence task falls due."),
        }  # fmt: skip

    def clean(self):
        data = super().clean()
        start, end = data.get("window_start"), data.get("window_end")
        if (start is None) != (end is None):
            missing = "window_end" if end is None else "window_start"
            self.add_error(missing, _("Give both times of the send window, or neither."))
        elif start is not None and start >= end:
            self.add_error("window_end", _("The send window must end after it starts."))
        return data


def _refuse_unknown_tokens(text: str) -> None:
    unknown = rules.unknown_tokens(text)
    if unknown:
        raise ValidationError(
            ngettext(
                "Unknown token %(tokens)s: pick tokens from the Personalize menu.",
                "Unknown tokens %(tokens)s: pick tokens from the Personalize menu.",
                len(unknown),
            )
            % {"tokens": ", ".join(unknown)}
        )


class StepForm(forms.Form):
    """One step. `id` names an existing step of the sequence (empty: a new one)."""

    id = forms.IntegerField(required=False, widget=forms.HiddenInput)
    kind = forms.ChoiceField(choices=StepKind.choices, widget=forms.HiddenInput)
    delay_days = forms.IntegerField(
        label=_("Wait (days after the previous step)"),
        required=False,
        widget=forms.NumberInput(attrs={"class": "short"}),
    )
    template = forms.ModelChoiceField(
        label=_("Template"),
        queryset=EmailTemplate.objects.none(),
        required=False,
        empty_label=_("No template"),
        error_messages={"invalid_choice": _("Choose a template you may use.")},
    )
    subject = forms.CharField(label=_("Subject"), max_length=500, required=False)
    body = forms.CharField(label=_("Body"), required=False, widget=RichTextarea(token_menu=True))
    new_thread = forms.BooleanField(label=_("Send as a new thread"), required=False)
    task_title = forms.CharField(label=_("Task title"), max_length=200, required=False)
    task_notes = forms.CharField(
        label=_("Notes"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    create_task_immediately = forms.BooleanField(
        label=_("Create the task immediately after the previous step"), required=False
    )
    continue_without_completing = forms.BooleanField(
        label=_("Continue without completing the task"), required=False
    )

    def __init__(self, *args, user, kept_templates=(), **kwargs):
        super().__init__(*args, **kwargs)
        # What the user may use, and what the sequence's steps were made from already (an
        # admin editing a rep's sequence keeps the rep's private template).
        usable = library.usable(EmailTemplate, user).values("pk")
        self.fields["template"].queryset = EmailTemplate.objects.filter(
            Q(pk__in=usable) | Q(pk__in=list(kept_templates))
        ).order_by("name")

    @property
    def kind_value(self) -> str:
        return self["kind"].value() or ""

    @property
    def is_email(self) -> bool:
        return self.kind_value == StepKind.AUTO_EMAIL

    @property
    def kind_label(self) -> str:
        return dict(StepKind.choices).get(self.kind_value, "")

    def clean_subject(self):
        subject = self.cleaned_data["subject"].strip()
        _refuse_unknown_tokens(subject)
        return subject

    def clean_body(self):
        body = self.cleaned_data["body"]
        _refuse_unknown_tokens(html.unescape(strip_tags(body)))
        return library.rich_text(body) if body.strip() else ""

    def clean_task_title(self):
        title = self.cleaned_data["task_title"].strip()
        _refuse_unknown_tokens(title)
        return title

    def clean(self):
        data = super().clean()
        if self.is_email:
            if not data.get("subject") and "subject" not in self.errors:
                self.add_error("subject", _("An email step needs a subject."))
            text = html.unescape(strip_tags(data.get("body") or "")).strip()
            if not text and "body" not in self.errors:
                self.add_error("body", _("An email step needs a body."))
        elif not data.get("task_title") and "task_title" not in self.errors:
            self.add_error("task_title", _("A task step needs a title."))
        return data


class BaseStepFormSet(forms.BaseFormSet):
    """The steps in page order. `held`: how many leading steps live enrollments have reached
    (rules.held_steps), which stay where they are; `existing`: the sequence's steps by id."""

    def __init__(self, *args, held: int = 0, existing=(), **kwargs):
        super().__init__(*args, prefix=STEP_PREFIX, **kwargs)
        self.held = held
        self.existing = {step.pk: step for step in existing}

    def kept(self) -> list[StepForm]:
        """The forms of the steps the sequence will have, in order (removed ones left out)."""
        return [f for f in self.forms if not self._should_delete_form(f)]

    def clean(self):
        kept = self.kept()
        for form in kept[1:]:  # the first step has no delay: it starts at enrollment
            self._check_delay(form)
        if any(form.errors for form in kept):  # a removed step's errors don't count
            return
        for form in self.forms:
            step_id = form.cleaned_data.get("id")
            if step_id is not None and step_id not in self.existing:
                raise ValidationError(_("A step was changed elsewhere: reload the page."))
        if not kept:
            raise ValidationError(_("Add at least one step."))
        held_ids = [s.pk for s in sorted(self.existing.values(), key=lambda s: s.position)]
        held_ids = held_ids[: self.held]
        if [f.cleaned_data.get("id") for f in kept[: len(held_ids)]] != held_ids:
            raise ValidationError(
                ngettext(
                    "Enrolled contacts have reached step %(n)s: it can't be removed or moved.",
                    "Enrolled contacts have reached steps 1 to %(n)s: they can't be removed or "
                    "moved, and no step can go before them.",
                    len(held_ids),
                )
                % {"n": len(held_ids)}
            )

    @staticmethod
    def _check_delay(form) -> None:
        if "delay_days" in form.errors:
            return
        delay = form.cleaned_data.get("delay_days")
        if delay is None:
            form.add_error("delay_days", _("Enter how many days to wait."))
        elif not 0 <= delay <= MAX_DELAY_DAYS:
            message = _("Wait between 0 and %(max)s days.") % {"max": MAX_DELAY_DAYS}
            form.add_error("delay_days", message)


StepFormSet = forms.formset_factory(StepForm, formset=BaseStepFormSet, extra=0, can_delete=True)
