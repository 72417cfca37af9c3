"""The options every contact of an enrollment shares (the "All contacts" panel): starting step,
time zone, send now or later, each step's delay, the From inbox."""

import zoneinfo
from datetime import datetime

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from mailboxes.preferences.defaults import FromChoice
from records.forms import time_zone_choices

from ..constants import MAX_DELAY_DAYS
from ..models import Step

NOW, LATER = "now", "later"


class SharedForm(forms.Form):
    start = forms.TypedChoiceField(label=_("Start at"), coerce=int)
    time_zone = forms.ChoiceField(
        label=_("Time zone"),
        choices=time_zone_choices,
        help_text=_("Every step runs in this zone."),
    )
    send = forms.ChoiceField(
        label=_("First email"),
        choices=[(NOW, _("Send now")), (LATER, _("Send later"))],
        widget=forms.RadioSelect,
        initial=NOW,
    )
    send_date = forms.DateField(
        label=_("Date"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    send_time = forms.TimeField(
        label=_("Time"), required=False, widget=forms.TimeInput(attrs={"type": "time"})
    )
    sender = forms.ChoiceField(label=_("From"))

    def __init__(self, *args, steps: list[Step], from_choices: list[FromChoice], **kwargs):
        super().__init__(*args, **kwargs)
        self.steps = steps
        self.from_choices = {c.key: c for c in from_choices}
        self.fields["start"].choices = [
            (
                s.position,
                _("Step %(n)d: %(kind)s") % {"n": s.position + 1, "kind": s.get_kind_display()},
            )
            for s in steps
        ]
        self.fields["sender"].choices = [(c.key, c.label) for c in from_choices]
        for step in steps[1:]:
            self.fields[f"delay_{step.position}"] = forms.IntegerField(
                label=_("Step %(n)d: days after the step before") % {"n": step.position + 1},
                min_value=0,
                max_value=MAX_DELAY_DAYS,
                initial=step.delay_days,
            )

    def delay_fields(self):
        return [self[f"delay_{s.position}"] for s in self.steps[1:]]

    def clean(self):
        data = super().clean()
        if data.get("send") != LATER:
            data["send_at"] = None
            return data
        day, at, zone = data.get("send_date"), data.get("send_time"), data.get("time_zone")
        if day is None:
            self.add_error("send_date", _("Choose the day the first email goes out."))
        if at is None:
            self.add_error("send_time", _("Choose the time the first email goes out."))
        if day is None or at is None or zone is None:
            return data
        send_at = datetime.combine(day, at, tzinfo=zoneinfo.ZoneInfo(zone))
        if send_at <= timezone.now():
            self.add_error("send_date", _("This moment is in the past: choose a later one."))
        data["send_at"] = send_at
        return data

    def delays(self) -> dict[int, int]:
        """The delays that differ from the steps' own, by position (valid forms only)."""
        return {
            s.position: self.cleaned_data[f"delay_{s.position}"]
            for s in self.steps[1:]
            if self.cleaned_data.get(f"delay_{s.position}") not in (None, s.delay_days)
        }

    def from_choice(self) -> FromChoice | None:
        return self.from_choices.get(self.cleaned_data.get("sender") or "")
