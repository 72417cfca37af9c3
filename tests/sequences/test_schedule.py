"""When later steps fall due: business days, holidays, the send window, the enrollment's zone."""

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from records.calendar.clock import Calendar, Holidays
from records.calendar.hours import default_weekly_hours, from_stored
from sequences.models import Sequence
from sequences.schedule import calendar_for, due_after

ROME = ZoneInfo("Europe/Rome")
TOKYO = ZoneInfo("Asia/Tokyo")


def account(holidays=()):
    return Calendar(ROME, from_stored(default_weekly_hours()), Holidays(dates=frozenset(holidays)))


def test_two_business_days_after_a_thursday_skip_the_weekend_and_a_friday_holiday():
    seq = Sequence(business_days_only=True)
    cal = calendar_for(seq, "Europe/Rome", account(holidays=[date(2026, 12, 25)]))
    ran = datetime(2026, 12, 24, 10, 0, tzinfo=ROME)  # Thursday
    assert due_after(cal, seq, ran, 2) == datetime(2026, 12, 29, 10, 0, tzinfo=ROME)


def test_the_send_window_is_read_in_the_enrollments_zone_east_of_utc():
    seq = Sequence(business_days_only=True, window_start=time(9), window_end=time(11))
    cal = calendar_for(seq, "Asia/Tokyo", account())
    ran = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)  # Monday 12:00 in Tokyo, past the window
    due = due_after(cal, seq, ran, 1)
    # Tuesday 12:00 is outside 09:00-11:00: Wednesday 09:00 in Tokyo, Tuesday 00:00 UTC.
    assert due == datetime(2026, 12, 9, 9, 0, tzinfo=TOKYO)
    assert due.astimezone(UTC) == datetime(2026, 12, 9, 0, 0, tzinfo=UTC)


def test_without_business_days_a_step_falls_on_a_sunday_within_the_window():
    seq = Sequence(business_days_only=False, window_start=time(8), window_end=time(20))
    cal = calendar_for(seq, "Europe/Rome", account(holidays=[date(2026, 12, 13)]))
    ran = datetime(2026, 12, 12, 21, 0, tzinfo=ROME)  # Saturday evening
    assert due_after(cal, seq, ran, 1) == datetime(2026, 12, 14, 8, 0, tzinfo=ROME)
    assert due_after(cal, seq, datetime(2026, 12, 12, 9, tzinfo=ROME), 1) == datetime(
        2026, 12, 13, 9, 0, tzinfo=ROME
    )


def test_a_task_created_immediately_is_due_when_the_step_before_ran():
    seq = Sequence()
    ran = datetime(2026, 12, 12, 21, 0, tzinfo=ROME)
    assert due_after(calendar_for(seq, "Europe/Rome", account()), seq, ran, 3, True) == ran
