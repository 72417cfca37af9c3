"""When an enrollment's steps fall due: the account's sending calendar, read in the
enrollment's time zone, narrowed by the sequence's follow-up settings.

- "Business days only" on: steps fall on the account's business days (not weekends it is
  closed, not holidays), within its business hours, or within the send window when the
  sequence has one. Off: any day, within the send window or at any hour.
- A step waits `delay_days` after the previous step ran: business days when "business days
  only" is on, calendar days otherwise, keeping the wall-clock time of the zone; then it moves
  to the next moment the calendar is open. A task created immediately is due at once.
- The first step is due when the rep said ("send now": at once, or the time they chose):
  the follow-up settings apply to the steps after it.
"""

from dataclasses import replace
from datetime import datetime, time, timedelta

from records.calendar.clock import Calendar, Holidays
from records.calendar.hours import DAY_END

from .models import Sequence

ALL_DAY = ((0, DAY_END),)


def _minutes(t: time) -> int:
    return t.hour * 60 + t.minute


def calendar_for(sequence: Sequence, tz: str, account: Calendar | None = None) -> Calendar:
    """The calendar the sequence's later steps run in, in zone `tz` (the enrollment's).

    Pass `account` (Calendar.for_account()) when building many: no query."""
    cal = (account or Calendar.for_account()).in_zone(tz)
    window = None
    if sequence.window_start is not None and sequence.window_end is not None:
        window = ((_minutes(sequence.window_start), _minutes(sequence.window_end) or DAY_END),)
    if sequence.business_days_only:
        if window is None:
            return cal
        # The window on the days the account is open.
        return replace(cal, week=tuple(window if day else () for day in cal.week))
    return replace(cal, week=(window or ALL_DAY,) * 7, holidays=Holidays())


def due_after(
    cal: Calendar, sequence: Sequence, ran_at: datetime, delay_days: int, immediately: bool = False
) -> datetime:
    """When a step falls due that waits `delay_days` after the previous one ran at `ran_at`."""
    if immediately:
        return ran_at
    if sequence.business_days_only:
        return cal.add_business_days(ran_at, delay_days)
    local = ran_at.astimezone(cal.tz)
    wall = datetime.combine(
        local.date() + timedelta(days=delay_days), local.time().replace(fold=0), tzinfo=cal.tz
    )
    return cal.next_open(wall)
