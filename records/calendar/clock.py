"""The clock over business hours: when is it open, and what is N business days or minutes on.

`Calendar` is a value object: a time zone, hours per weekday and holidays. Build it with
`Calendar.for_account()` (the account's business hours and holidays), `Calendar.for_user(user)`
(their working hours in their zone, or the account's; the account's holidays), and move it to
another zone with `in_zone(tz)` ("send during the account's hours, in the contact's zone") or
give it other hours with `with_hours(weekly_hours)` (a sequence's send window).

How times are read, in every function:

- Hours and holidays are wall-clock times and dates **in the calendar's zone**, whatever zone
  the datetime passed in is in (or the server's, or UTC). Every function takes aware datetimes
  (a naive one is a ValueError) and returns aware datetimes in the calendar's zone. (Python
  compares two datetimes of one zone by their wall clocks, and never finds a repeated wall
  time equal to another zone's: compare results as instants, `.astimezone(UTC)`.)
- A wall-clock time that does not exist (the hour skipped when clocks go forward) is read with
  the UTC offset from before the change, so it moves forward by the gap: 02:30 on such a day is
  03:30 (as RFC 5545 and PEP 495 read it). One that happens twice (the hour repeated when
  clocks go back) is the first of the two.
- A business day is a date of the calendar's zone that is not a holiday and whose weekday has
  hours (that exist on that date).
- Time within hours is real elapsed time: on the night clocks go forward, hours 01:00-04:00
  last two hours; on the night they go back, four.
- A calendar that is never open (no hours in the week, or no business day for two years
  because of holidays) raises `NoOpenHours` from the functions that look for an open moment;
  `is_open` is then False and `business_minutes_between` 0. None of them loops without bound.
"""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from ..models import BusinessCalendar, Holiday
from .hours import DAY_END, Week, from_stored

# How long a calendar may stay closed before it counts as never open.
HORIZON_DAYS = 2 * 366

Period = tuple[datetime, datetime]  # [start, end) in UTC


class NoOpenHours(ValueError):
    """The calendar has no business hours to find: none in its week, or no business day for
    two years after the date asked about."""


@dataclass(frozen=True)
class Holidays:
    """One-off dates, and (month, day) pairs that are holidays every year."""

    dates: frozenset[date] = frozenset()
    yearly: frozenset[tuple[int, int]] = frozenset()

    def __contains__(self, day: date) -> bool:
        return day in self.dates or (day.month, day.day) in self.yearly

    @classmethod
    def of(cls, rows: Sequence[Holiday]) -> "Holidays":
        return cls(
            dates=frozenset(h.date for h in rows if not h.yearly),
            yearly=frozenset((h.date.month, h.date.day) for h in rows if h.yearly),
        )


def _zone(tz: ZoneInfo | str) -> ZoneInfo:
    return tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)


def _aware(t: datetime) -> datetime:
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError("The calendar's functions need an aware datetime, not a naive one.")
    return t.astimezone(UTC)


@dataclass(frozen=True)
class Calendar:
    """Business hours in `tz`: `week` is seven days (Monday first) of (start, end) minutes
    since midnight, sorted and apart; `holidays` close whole dates."""

    tz: ZoneInfo
    week: Week
    holidays: Holidays = field(default_factory=Holidays)

    @classmethod
    def account_zone(cls) -> ZoneInfo:
        """The account's time zone alone (one query): where its days begin and end."""
        return _zone(BusinessCalendar.load().time_zone)

    @classmethod
    def for_account(cls) -> "Calendar":
        """The account's business hours and holidays (two queries)."""
        row = BusinessCalendar.load()
        return cls(
            _zone(row.time_zone), from_stored(row.weekly_hours), Holidays.of(Holiday.objects.all())
        )

    @classmethod
    def for_user(cls, user, account: "Calendar | None" = None) -> "Calendar":
        """`user`'s working hours in their own zone, with the account's holidays; without
        hours of their own, the account's calendar as it is (its hours, in its zone).

        Pass `account` (from `for_account()`) when building many users' calendars: no query.
        """
        account = account or cls.for_account()
        if not user.working_hours:
            return account
        return cls(_zone(user.time_zone), from_stored(user.working_hours), account.holidays)

    def in_zone(self, tz: ZoneInfo | str) -> "Calendar":
        """The same hours and holidays, read as wall-clock times in `tz` (a contact's zone:
        "send at 9" is 9 there)."""
        return replace(self, tz=_zone(tz))

    def with_hours(self, weekly_hours) -> "Calendar":
        """Other hours (stored form, records/calendar/hours.py) with the same zone and
        holidays: a sequence's send window."""
        return replace(self, week=from_stored(weekly_hours))

    # -- the clock -------------------------------------------------------------------------

    def is_business_day(self, day: date) -> bool:
        return bool(self._periods(day))

    def is_open(self, t: datetime) -> bool:
        """Whether `t` is inside business hours."""
        u = _aware(t)
        day = u.astimezone(self.tz).date()
        return any(start <= u < end for start, end in self._periods(day))

    def next_open(self, t: datetime) -> datetime:
        """The first moment at or after `t` inside business hours: `t` itself when open."""
        u = _aware(t)
        for _day, periods in self._business_days(u.astimezone(self.tz).date()):
            for start, end in periods:
                if end > u:
                    return max(start, u).astimezone(self.tz)
        raise AssertionError("unreachable: _business_days raises first")

    def add_business_days(self, t: datetime, n: int) -> datetime:
        """The same wall-clock time as `t`, on the n-th business day after `t`'s date, moved
        to `next_open` if that time is outside hours there.

        Thursday 10:00 plus 1, with Friday a holiday: Monday 10:00. Saturday 10:00 plus 1:
        Monday 10:00 too (Monday is the first business day after Saturday). Thursday 18:00
        plus 1, with hours until 17:00: Friday 18:00 is closed, so Monday's opening. `n` = 0
        is `next_open(t)`. A time that does not exist on the day reached moves forward.
        """
        if n < 0:
            raise ValueError("n must be 0 or more.")
        if n == 0:
            return self.next_open(t)
        local = _aware(t).astimezone(self.tz)
        days = self._business_days(local.date() + timedelta(days=1))
        for count, (day, _periods) in enumerate(days, start=1):
            if count == n:
                wall = datetime.combine(day, local.time().replace(fold=0), tzinfo=self.tz)
                return self.next_open(wall)
        raise AssertionError("unreachable: _business_days raises first")

    def add_business_minutes(self, t: datetime, n: float) -> datetime:
        """The moment `n` minutes of business time after `t` have passed (from `next_open(t)`
        when `t` is outside hours). It may be the end of an interval (17:00 exactly): the
        deadline of "reassign after N working minutes". `n` = 0 is `next_open(t)`."""
        if n < 0:
            raise ValueError("n must be 0 or more.")
        u = _aware(t)
        remaining = timedelta(minutes=n)
        for _day, periods in self._business_days(u.astimezone(self.tz).date()):
            for start, end in periods:
                if end <= u:
                    continue
                start = max(start, u)
                if remaining <= end - start:
                    return (start + remaining).astimezone(self.tz)
                remaining -= end - start
        raise AssertionError("unreachable: _business_days raises first")

    def business_minutes_between(self, a: datetime, b: datetime) -> float:
        """Minutes of business time from `a` to `b` (0 when `b` is not after `a`): how long a
        reply took, counted in business hours."""
        a, b = _aware(a), _aware(b)
        if b <= a:
            return 0.0
        total = timedelta()
        day, last = a.astimezone(self.tz).date(), b.astimezone(self.tz).date()
        while day <= last:
            for start, end in self._periods(day):
                overlap = min(end, b) - max(start, a)
                if overlap > timedelta():
                    total += overlap
            day += timedelta(days=1)
        return total.total_seconds() / 60

    # -- inside ----------------------------------------------------------------------------

    def _at(self, day: date, minutes: int) -> datetime:
        """The moment a wall clock in the zone reads `minutes` after midnight on `day`
        (24:00 is the next midnight); fold 0 moves a skipped time forward and takes the first
        of a repeated one."""
        if minutes == DAY_END:
            day, minutes = day + timedelta(days=1), 0
        wall = datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=self.tz)
        return wall.astimezone(UTC)

    def _periods(self, day: date) -> list[Period]:
        """The open periods of `day`, in order and apart even on a DST day (where a skipped
        time read forward can land after the next interval's start)."""
        if day in self.holidays:
            return []
        periods: list[Period] = []
        for start_minutes, end_minutes in self.week[day.weekday()]:
            start, end = self._at(day, start_minutes), self._at(day, end_minutes)
            if periods:
                start = max(start, periods[-1][1])
            if end > start:
                periods.append((start, end))
        return periods

    def _business_days(self, first: date) -> Iterator[tuple[date, list[Period]]]:
        """Each business day from `first` on, with its periods; raises NoOpenHours after two
        years without one."""
        day = since = first
        while True:
            periods = self._periods(day)
            if periods:
                yield day, periods
                since = day + timedelta(days=1)
            elif (day - since).days >= HORIZON_DAYS:
                raise NoOpenHours(
                    f"The calendar has no business hours in the two years from {since}: "
                    "give it hours on at least one weekday that is not always a holiday."
                )
            day += timedelta(days=1)
