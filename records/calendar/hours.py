"""Weekly hours: typed as text per weekday, stored as JSON, used as minutes since midnight.

Stored (the `weekly_hours` of `BusinessCalendar`, a user's `working_hours`): a list of seven
days, Monday first, each a list of intervals `["09:00", "12:30"]`, sorted and apart; an empty
day is closed. "24:00" ends a day that runs to midnight. Typed: `"09:00-12:30, 13:30-18:00"`.
"""

import re
from collections.abc import Sequence

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

# Monday first, as `date.weekday()` counts; the key names each day's field in a form.
WEEKDAYS = (
    ("mon", gettext_lazy("Monday")),
    ("tue", gettext_lazy("Tuesday")),
    ("wed", gettext_lazy("Wednesday")),
    ("thu", gettext_lazy("Thursday")),
    ("fri", gettext_lazy("Friday")),
    ("sat", gettext_lazy("Saturday")),
    ("sun", gettext_lazy("Sunday")),
)
DAY_END = 24 * 60

# An interval is (start, end) in minutes since midnight; a day is a tuple of them.
Interval = tuple[int, int]
Day = tuple[Interval, ...]
Week = tuple[Day, ...]

_TIME = re.compile(r"(\d{1,2})(?:[:.](\d{2}))?")
_RANGE = re.compile(r"\s*(\S+?)\s*[-–—]\s*(\S+)\s*")


def _minutes(text: str, *, end: bool) -> int:
    match = _TIME.fullmatch(text)
    if match is None:
        raise ValidationError(
            _("“%(text)s” is not a time: write it like 09:00."), params={"text": text}
        )
    hour, minute = int(match[1]), int(match[2] or 0)
    if minute > 59 or hour > 24 or (hour == 24 and (minute or not end)):
        raise ValidationError(
            _("%(text)s is not a time of day (00:00 to 24:00)."), params={"text": text}
        )
    return hour * 60 + minute


def clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def parse_day(text: str) -> Day:
    """Read one day's intervals ("09:00-12:30, 13:30-18:00"; "9-17" too), sorted.

    Raises ValidationError saying what is wrong: a part that is not a range, a time that does
    not exist, an interval that ends before it starts, two that overlap. Intervals that touch
    (12:00-13:00, 13:00-14:00) are one.
    """
    intervals = []
    for part in (p for p in re.split(r"[,;\n]", text) if p.strip()):
        match = _RANGE.fullmatch(part)
        if match is None:
            raise ValidationError(
                _("“%(part)s” is not a range of hours: write it like 09:00-12:30."),
                params={"part": part.strip()},
            )
        start, end = _minutes(match[1], end=False), _minutes(match[2], end=True)
        if end <= start:
            raise ValidationError(
                _("%(range)s ends before it starts."),
                params={"range": f"{clock(start)}-{clock(end)}"},
            )
        intervals.append((start, end))
    intervals.sort()
    merged: list[Interval] = []
    for start, end in intervals:
        if merged and start < merged[-1][1]:
            before = merged[-1]
            raise ValidationError(
                _("%(first)s and %(second)s overlap."),
                params={
                    "first": f"{clock(before[0])}-{clock(before[1])}",
                    "second": f"{clock(start)}-{clock(end)}",
                },
            )
        if merged and start == merged[-1][1]:
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return tuple(merged)


def format_day(day: Day) -> str:
    return ", ".join(f"{clock(start)}-{clock(end)}" for start, end in day)


def to_stored(week: Sequence[Day]) -> list[list[list[str]]]:
    return [[[clock(start), clock(end)] for start, end in day] for day in week]


def from_stored(stored) -> Week:
    """The stored JSON as a `Week`; raises ValidationError if it is not well formed."""
    if not isinstance(stored, list) or len(stored) != len(WEEKDAYS):
        raise ValidationError(_("Weekly hours need seven days, Monday first."))
    week = []
    for day in stored:
        if not isinstance(day, list) or not all(
            isinstance(i, list) and len(i) == 2 and all(isinstance(t, str) for t in i) for i in day
        ):
            raise ValidationError(_("Each day's hours are a list of [start, end] times."))
        text = ", ".join(f"{start}-{end}" for start, end in day)
        parsed = parse_day(text)
        if to_stored([parsed]) != [day]:
            raise ValidationError(_("Each day's hours are sorted, apart, as HH:MM."))
        week.append(parsed)
    return tuple(week)


def validate_weekly_hours(value) -> None:
    from_stored(value)


def validate_working_hours(value) -> None:
    """A user's working hours: weekly hours, or empty for the account's."""
    if value != []:
        from_stored(value)


def default_weekly_hours() -> list[list[list[str]]]:
    """Monday to Friday, 09:00 to 17:00."""
    return to_stored([((9 * 60, 17 * 60),)] * 5 + [()] * 2)
