"""The hours widget (per weekday a text of intervals and a Closed box), the account's calendar
and holiday forms, and each user's working hours on Settings > General."""

import re
from calendar import monthrange
from datetime import date
from zoneinfo import ZoneInfo

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.dates import MONTHS
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ..forms import time_zone_field
from ..models import BusinessCalendar, Holiday, User
from .countries import COUNTRIES
from .hours import WEEKDAYS, format_day, from_stored, parse_day, to_stored


class WeeklyHoursMixin:
    """Per weekday a text field of intervals (`mon`: "09:00-12:30, 13:30-18:00") and a Closed
    box (`mon_closed`); `cleaned_data["weekly_hours"]` is the stored form. A day that is wrong
    gets its error beside it and keeps what was typed.

    `empty_means` names what a form left wholly empty means (a user's: the account's hours);
    None: every day needs hours or Closed.
    """

    empty_means: str | None = None

    def add_hours_fields(self, stored, placeholders=None) -> None:
        week = from_stored(stored) if stored else None
        for n, (key, label) in enumerate(WEEKDAYS):
            self.fields[key] = forms.CharField(
                label=label,
                required=False,
                max_length=200,
                widget=forms.TextInput(
                    attrs={"placeholder": placeholders[n] if placeholders else "09:00-17:00"}
                ),
            )
            self.fields[f"{key}_closed"] = forms.BooleanField(
                label=gettext_lazy("Closed"),
                required=False,
                widget=forms.CheckboxInput(
                    attrs={"aria-label": _("%(day)s closed") % {"day": label}}
                ),
            )
            if week is not None:
                self.initial.setdefault(key, format_day(week[n]))
                self.initial.setdefault(f"{key}_closed", not week[n])

    @property
    def days(self) -> list[dict]:
        """The widget's rows, for the template."""
        return [
            {"key": key, "label": label, "text": self[key], "closed": self[f"{key}_closed"]}
            for key, label in WEEKDAYS
        ]

    def clean_hours(self, data: dict) -> None:
        typed = [
            (key, data.get(key, "").strip(), data.get(f"{key}_closed")) for key, _l in WEEKDAYS
        ]
        if self.empty_means is not None and not any(text or closed for _k, text, closed in typed):
            data["weekly_hours"] = []
            return
        week = []
        for key, text, closed in typed:
            if key in self.errors:
                continue
            if closed:
                week.append(())
            elif not text:
                self.add_error(key, _("Type this day's hours, or tick Closed."))
            else:
                try:
                    week.append(parse_day(text))
                except ValidationError as error:
                    self.add_error(key, error)
        if len(week) == len(WEEKDAYS) and not any(week):
            self.add_error(None, self.all_closed_message())
        data["weekly_hours"] = to_stored(week)

    def all_closed_message(self) -> str:
        return _("Give at least one day some hours.")


class BusinessCalendarForm(WeeklyHoursMixin, forms.ModelForm):
    """The account's time zone and business hours, saved together."""

    time_zone = time_zone_field(gettext_lazy("Business hours and holidays are read in this zone."))

    class Meta:
        model = BusinessCalendar
        fields = ["time_zone"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.add_hours_fields(self.instance.weekly_hours)

    def clean(self):
        data = super().clean()
        self.clean_hours(data)
        return data

    def all_closed_message(self) -> str:
        return _("The account needs business hours on at least one day: untick Closed on one.")

    def save(self, commit=True):
        self.instance.weekly_hours = self.cleaned_data["weekly_hours"]
        return super().save(commit)


class WorkingHoursForm(WeeklyHoursMixin, forms.ModelForm):
    """A user's own working hours, in their time zone; all empty: the account's hours."""

    empty_means = "account"

    class Meta:
        model = User
        fields = []

    def __init__(self, *args, account: BusinessCalendar, **kwargs):
        super().__init__(*args, **kwargs)
        self.account_zone = account.time_zone
        account_week = from_stored(account.weekly_hours)
        self.add_hours_fields(
            self.instance.working_hours,
            placeholders=[format_day(day) or _("Closed") for day in account_week],
        )

    def clean(self):
        data = super().clean()
        self.clean_hours(data)
        return data

    def all_closed_message(self) -> str:
        return _(
            "Give yourself hours on at least one day, or empty every day to work the "
            "account's business hours."
        )

    def save(self, commit=True):
        self.instance.working_hours = self.cleaned_data["weekly_hours"]
        if commit:
            self.instance.save(update_fields=["working_hours"])
        return self.instance


def working_hours_form(user, data) -> WorkingHoursForm:
    """The "Working hours" part of Settings > General (records/apps.py registers it)."""
    return WorkingHoursForm(data, instance=user, account=BusinessCalendar.load(), prefix="hours")


class HolidayDateField(forms.DateField):
    """A date typed or picked as YYYY-MM-DD; a day its month does not have ("2026-02-31") is
    refused by name rather than as "Enter a valid date"."""

    widget = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")

    def to_python(self, value):
        match = isinstance(value, str) and re.fullmatch(r"\s*(\d{4})-(\d{1,2})-(\d{1,2})\s*", value)
        if match:
            year, month, day = (int(part) for part in match.groups())
            if not 1 <= month <= 12:
                raise ValidationError(_("There is no month %(month)s."), params={"month": month})
            days = monthrange(year, month)[1]
            if not 1 <= day <= days:
                raise ValidationError(
                    _("%(month)s %(year)s has no day %(day)s: it has %(days)s days."),
                    params={"month": MONTHS[month], "year": year, "day": day, "days": days},
                )
            return date(year, month, day)
        return super().to_python(value)


class HolidayForm(forms.ModelForm):
    """A holiday an admin types: once, or every year on that month and day."""

    date = HolidayDateField(label=gettext_lazy("Date"))

    class Meta:
        model = Holiday
        fields = ["date", "name", "yearly"]
        labels = {"name": gettext_lazy("Name"), "yearly": gettext_lazy("Every year")}
        help_texts = {"yearly": gettext_lazy("On this month and day, every year.")}

    def clean(self):
        data = super().clean()
        day = data.get("date")
        if day is None:
            return data
        # A yearly holiday covers its month and day in every year; a one-off, its date.
        clash = Holiday.objects.filter(yearly=True, date__month=day.month, date__day=day.day)
        if not data.get("yearly"):
            clash = clash | Holiday.objects.filter(yearly=False, date=day)
        if same := clash.first():
            message = _("This day is already a holiday: %(name)s.") % {"name": same.name}
            self.add_error("date", message)
        return data


class HolidayImportForm(forms.Form):
    """Which country's holidays to import, and for which years (this year and next by
    default, in the account's zone)."""

    country = forms.ChoiceField(label=gettext_lazy("Country"))
    years = forms.ChoiceField(label=gettext_lazy("Years"))

    def __init__(self, *args, time_zone: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["country"].choices = sorted(
            ((code, str(name)) for code, name in COUNTRIES.items()), key=lambda c: c[1]
        )
        this = timezone.now().astimezone(ZoneInfo(time_zone)).year
        self.fields["years"].choices = [
            (f"{this},{this + 1}", _("%(this)s and %(next)s") % {"this": this, "next": this + 1}),
            *((str(year), str(year)) for year in (this, this + 1, this + 2)),
        ]

    def clean_years(self) -> list[int]:
        return [int(year) for year in self.cleaned_data["years"].split(",")]
