"""The clock over business hours (records/calendar/clock.py): its edge cases.

Hours are wall-clock times in the calendar's zone, whatever zone a datetime comes in; across a
DST change the wall clock is kept; a skipped time moves forward, a repeated one is the first.
"""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from records.calendar.clock import Calendar, Holidays, NoOpenHours
from records.calendar.hours import parse_day

OFFICE = ["09:00-17:00"] * 5 + ["", ""]
ALWAYS = ["00:00-24:00"] * 7


def cal(zone: str, days=OFFICE, holidays=(), yearly=()) -> Calendar:
    return Calendar(
        ZoneInfo(zone),
        tuple(parse_day(day) for day in days),
        Holidays(frozenset(holidays), frozenset(yearly)),
    )


def at(zone: str, *args, fold=0) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo(zone), fold=fold)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def instant(t: datetime) -> datetime:
    """`t` in UTC. Python compares and subtracts two datetimes of one zone by their wall
    clocks, and never finds a repeated wall time equal to another zone's: compare instants."""
    return t.astimezone(UTC)


# -- plain days -----------------------------------------------------------------------------


def test_next_open_is_the_moment_itself_inside_hours_and_the_next_opening_outside():
    rome = cal("Europe/Rome")
    monday = at("Europe/Rome", 2026, 5, 11, 10, 15)
    assert rome.next_open(monday) == monday
    assert rome.next_open(at("Europe/Rome", 2026, 5, 11, 7, 0)) == at("Europe/Rome", 2026, 5, 11, 9)
    # The end of a range is closed: 17:00 opens the next morning.
    assert rome.next_open(at("Europe/Rome", 2026, 5, 11, 17)) == at("Europe/Rome", 2026, 5, 12, 9)
    assert rome.next_open(at("Europe/Rome", 2026, 5, 15, 18)) == at("Europe/Rome", 2026, 5, 18, 9)
    assert rome.is_open(monday) and not rome.is_open(at("Europe/Rome", 2026, 5, 16, 10))


def test_every_result_is_aware_and_in_the_calendars_zone_and_naive_input_is_refused():
    rome = cal("Europe/Rome")
    result = rome.next_open(utc(2026, 5, 11, 5))
    assert result.tzinfo == ZoneInfo("Europe/Rome") and result == utc(2026, 5, 11, 7)
    with pytest.raises(ValueError, match="aware"):
        rome.next_open(datetime(2026, 5, 11, 10))


def test_several_ranges_a_day_leave_the_lunch_break_closed():
    split = cal("Europe/Rome", ["09:00-12:30, 13:30-18:00"] * 5 + ["", ""])
    lunch = at("Europe/Rome", 2026, 5, 11, 12, 45)
    assert not split.is_open(lunch)
    assert split.next_open(lunch) == at("Europe/Rome", 2026, 5, 11, 13, 30)
    day = split.business_minutes_between(
        at("Europe/Rome", 2026, 5, 11, 0), at("Europe/Rome", 2026, 5, 12, 0)
    )
    assert day == 3.5 * 60 + 4.5 * 60
    # An hour from noon: 30 minutes before lunch, 30 after it.
    assert split.add_business_minutes(at("Europe/Rome", 2026, 5, 11, 12), 60) == at(
        "Europe/Rome", 2026, 5, 11, 14
    )


def test_adding_business_days_keeps_the_wall_clock_time_and_skips_the_weekend():
    rome = cal("Europe/Rome")
    thursday = at("Europe/Rome", 2026, 5, 14, 10)
    assert rome.add_business_days(thursday, 1) == at("Europe/Rome", 2026, 5, 15, 10)
    assert rome.add_business_days(thursday, 2) == at("Europe/Rome", 2026, 5, 18, 10)
    assert rome.add_business_days(thursday, 0) == thursday
    # Saturday's next business day is Monday, as Friday's is.
    assert rome.add_business_days(at("Europe/Rome", 2026, 5, 16, 10), 1) == at(
        "Europe/Rome", 2026, 5, 18, 10
    )
    # 18:00 on the day reached is outside hours: its next opening.
    assert rome.add_business_days(at("Europe/Rome", 2026, 5, 14, 18), 1) == at(
        "Europe/Rome", 2026, 5, 18, 9
    )
    with pytest.raises(ValueError):
        rome.add_business_days(thursday, -1)


def test_business_minutes_end_at_the_close_and_go_on_next_morning():
    rome = cal("Europe/Rome")
    monday = at("Europe/Rome", 2026, 5, 11, 16)
    assert rome.add_business_minutes(monday, 60) == at("Europe/Rome", 2026, 5, 11, 17)
    assert rome.add_business_minutes(monday, 61) == at("Europe/Rome", 2026, 5, 12, 9, 1)
    # From outside hours, counting starts at the opening.
    saturday = at("Europe/Rome", 2026, 5, 16, 12)
    assert rome.add_business_minutes(saturday, 30) == at("Europe/Rome", 2026, 5, 18, 9, 30)
    assert rome.add_business_minutes(saturday, 0) == at("Europe/Rome", 2026, 5, 18, 9)
    # A reply on Monday at 10:00 to a Friday 16:30 email took 90 business minutes.
    friday = at("Europe/Rome", 2026, 5, 15, 16, 30)
    assert rome.business_minutes_between(friday, at("Europe/Rome", 2026, 5, 18, 10)) == 90
    assert rome.business_minutes_between(at("Europe/Rome", 2026, 5, 18, 10), friday) == 0


# -- holidays -------------------------------------------------------------------------------


def test_a_holiday_on_a_friday_moves_thursday_plus_one_to_monday():
    labour_day = date(2026, 5, 1)  # a Friday
    rome = cal("Europe/Rome", holidays=[labour_day])
    thursday = at("Europe/Rome", 2026, 4, 30, 10)
    assert rome.add_business_days(thursday, 1) == at("Europe/Rome", 2026, 5, 4, 10)
    friday = at("Europe/Rome", 2026, 5, 1, 10)
    assert not rome.is_open(friday)
    assert rome.next_open(friday) == at("Europe/Rome", 2026, 5, 4, 9)
    assert not rome.is_business_day(labour_day)
    # Thursday 16:00 to Monday 10:00: an hour each side of the long weekend.
    assert (
        rome.business_minutes_between(
            at("Europe/Rome", 2026, 4, 30, 16), rome.next_open(friday) + timedelta(hours=1)
        )
        == 120
    )


def test_a_yearly_holiday_closes_its_month_and_day_every_year():
    christmas = cal("Europe/Rome", yearly=[(12, 25)])
    for year in (2026, 2028, 2031):  # a Friday, a Monday, a Thursday
        day = date(year, 12, 25)
        assert not christmas.is_business_day(day)
        opening = christmas.next_open(at("Europe/Rome", year, 12, 25, 10))
        assert opening.date() > day and opening.hour == 9
    assert christmas.next_open(at("Europe/Rome", 2028, 12, 25, 8)) == at(
        "Europe/Rome", 2028, 12, 26, 9
    )


# -- DST: Europe/Rome (29 March 2026 02:00 -> 03:00; 25 October 2026 03:00 -> 02:00) ----------


def test_rome_business_hours_across_the_spring_change_open_at_nine_on_the_wall_clock():
    rome = cal("Europe/Rome")
    before = rome.next_open(at("Europe/Rome", 2026, 3, 26, 20))
    after = rome.next_open(at("Europe/Rome", 2026, 3, 27, 20))
    assert before == utc(2026, 3, 27, 8)  # 09:00 CET
    assert after == utc(2026, 3, 30, 7)  # 09:00 CEST
    assert (after.hour, before.hour) == (9, 9)
    # Friday 10:00 plus one business day: Monday 10:00 on the wall clock, 71 hours later.
    friday = at("Europe/Rome", 2026, 3, 27, 10)
    monday = rome.add_business_days(friday, 1)
    assert monday == at("Europe/Rome", 2026, 3, 30, 10)
    assert instant(monday) - instant(friday) == timedelta(hours=71)
    # Business time across it is unchanged: the change happens while closed.
    assert rome.business_minutes_between(friday, monday) == 8 * 60


def test_rome_a_0230_that_does_not_exist_moves_forward_by_the_gap():
    always = cal("Europe/Rome", ALWAYS)
    saturday = at("Europe/Rome", 2026, 3, 28, 2, 30)
    sunday = always.add_business_days(saturday, 1)
    assert sunday == utc(2026, 3, 29, 1, 30)
    assert (sunday.hour, sunday.minute, sunday.utcoffset()) == (3, 30, timedelta(hours=2))
    # Hours that start in the gap open when the clock, read forward, reaches them.
    night = cal("Europe/Rome", [""] * 6 + ["02:30-05:00"])
    assert night.next_open(at("Europe/Rome", 2026, 3, 29, 0)) == utc(2026, 3, 29, 1, 30)


def test_rome_the_spring_day_is_23_business_hours_long_and_the_autumn_day_25():
    always = cal("Europe/Rome", ALWAYS)
    spring = always.business_minutes_between(
        at("Europe/Rome", 2026, 3, 29, 0), at("Europe/Rome", 2026, 3, 30, 0)
    )
    autumn = always.business_minutes_between(
        at("Europe/Rome", 2026, 10, 25, 0), at("Europe/Rome", 2026, 10, 26, 0)
    )
    assert (spring, autumn) == (23 * 60, 25 * 60)
    # An hour of business time from 01:30 on the spring night ends at 03:30 on the wall clock.
    assert always.add_business_minutes(at("Europe/Rome", 2026, 3, 29, 1, 30), 60) == at(
        "Europe/Rome", 2026, 3, 29, 3, 30
    )
    # Hours 01:00-04:00 last two real hours on the spring night and four on the autumn one.
    nights = cal("Europe/Rome", [""] * 6 + ["01:00-04:00"])
    for day, hours in ((29, 2), (25, 4)):
        month = 3 if day == 29 else 10
        start = at("Europe/Rome", 2026, month, day, 0)
        assert nights.business_minutes_between(start, start + timedelta(hours=6)) == hours * 60


def test_rome_ranges_that_meet_in_the_gap_are_never_counted_twice():
    # 02:30 read forward is 03:30, after the next range's 03:00: they are kept apart.
    sunday = cal("Europe/Rome", [""] * 6 + ["01:00-02:30, 03:00-05:00"])
    start = at("Europe/Rome", 2026, 3, 29, 0)
    assert sunday.business_minutes_between(start, start + timedelta(hours=6)) == 3 * 60
    assert sunday.add_business_minutes(start, 3 * 60) == at("Europe/Rome", 2026, 3, 29, 5)


def test_rome_a_repeated_0230_on_the_autumn_night_is_the_first_of_the_two():
    always = cal("Europe/Rome", ALWAYS)
    sunday = always.add_business_days(at("Europe/Rome", 2026, 10, 24, 2, 30), 1)
    assert instant(sunday) == utc(2026, 10, 25, 0, 30)  # 02:30 CEST, not CET an hour later
    # Even from the second 02:30 of the night before, the day reached takes the first.
    second = at("Europe/Rome", 2027, 10, 30, 2, 30, fold=1)
    assert instant(always.add_business_days(second, 1)) == utc(2027, 10, 31, 0, 30)
    # Office hours across the autumn change: Monday 10:00 CET.
    office = cal("Europe/Rome")
    assert office.add_business_days(at("Europe/Rome", 2026, 10, 23, 10), 1) == utc(2026, 10, 26, 9)


# -- DST: America/New_York (8 March 2026 02:00 -> 03:00; 1 November 2026 02:00 -> 01:00) -------


def test_new_york_business_days_across_the_spring_change_keep_ten_oclock():
    ny = cal("America/New_York")
    friday = at("America/New_York", 2026, 3, 6, 10)
    assert friday == utc(2026, 3, 6, 15)
    assert ny.add_business_days(friday, 1) == utc(2026, 3, 9, 14)  # 10:00 EDT
    assert ny.next_open(utc(2026, 3, 9, 12)) == utc(2026, 3, 9, 13)  # 09:00 EDT
    always = cal("America/New_York", ALWAYS)
    moved = always.add_business_days(at("America/New_York", 2026, 3, 7, 2, 30), 1)
    assert (moved.hour, moved.minute, moved) == (3, 30, utc(2026, 3, 8, 7, 30))


def test_new_york_the_autumn_change_repeats_an_hour_of_business_time():
    always = cal("America/New_York", ALWAYS)
    sunday = at("America/New_York", 2026, 11, 1, 0)
    assert always.business_minutes_between(sunday, sunday + timedelta(days=1)) == 25 * 60
    first = always.add_business_days(at("America/New_York", 2026, 10, 31, 1, 30), 1)
    assert instant(first) == utc(2026, 11, 1, 5, 30) and first.utcoffset() == timedelta(hours=-4)
    ny = cal("America/New_York")
    assert ny.add_business_days(at("America/New_York", 2026, 10, 30, 10), 1) == utc(2026, 11, 2, 15)


# -- zones east of UTC ----------------------------------------------------------------------


def test_in_sydney_nine_on_monday_is_sunday_in_utc_and_counts_as_monday():
    account = cal("Europe/Rome")
    sydney = account.in_zone("Australia/Sydney")
    sunday_utc = utc(2026, 3, 1, 21)  # Monday 08:00 in Sydney (AEDT, UTC+11)
    opening = sydney.next_open(sunday_utc)
    assert opening == utc(2026, 3, 1, 22) and (opening.weekday(), opening.hour) == (0, 9)
    assert sydney.is_open(utc(2026, 3, 1, 22, 30))
    # Read in UTC (Sunday) or in the account's zone (Sunday 23:30) it would be closed.
    assert not account.is_open(utc(2026, 3, 1, 22, 30))
    # A holiday is a date of the contact's zone: that Monday closed, Tuesday 09:00 there.
    closed_monday = Calendar(sydney.tz, sydney.week, Holidays(frozenset({date(2026, 3, 2)})))
    assert closed_monday.next_open(sunday_utc) == utc(2026, 3, 2, 22)


def test_send_at_nine_is_nine_in_the_contacts_zone_whatever_the_servers():
    tokyo = cal("Europe/Rome").in_zone("Asia/Tokyo")
    friday_evening_utc = utc(2026, 5, 15, 10)  # Friday 19:00 in Tokyo
    for server_zone in ("UTC", "America/Los_Angeles", "Europe/Rome"):
        with timezone.override(server_zone):
            send = tokyo.next_open(friday_evening_utc)
            assert send == utc(2026, 5, 18, 0)  # Monday 09:00 JST, Monday 00:00 UTC
            assert (send.weekday(), send.hour, send.tzinfo) == (0, 9, ZoneInfo("Asia/Tokyo"))
    # Thursday 10:00 in Tokyo plus a business day: Friday 10:00 there (01:00 UTC).
    thursday = at("Asia/Tokyo", 2026, 5, 14, 10)
    assert tokyo.add_business_days(thursday, 1) == utc(2026, 5, 15, 1)


def test_a_send_window_keeps_the_zone_and_the_holidays():
    account = cal("Europe/Rome", holidays=[date(2026, 5, 18)])
    window = account.in_zone("Asia/Tokyo").with_hours([[["08:00", "11:00"]]] * 5 + [[], []])
    assert window.next_open(utc(2026, 5, 15, 10)) == at("Asia/Tokyo", 2026, 5, 19, 8)


# -- a calendar that is never open ----------------------------------------------------------


def test_a_closed_calendar_raises_a_clear_error_at_once_and_is_never_open():
    closed = cal("Europe/Rome", [""] * 7)
    t = at("Europe/Rome", 2026, 5, 11, 10)
    for call in (
        lambda: closed.next_open(t),
        lambda: closed.add_business_days(t, 1),
        lambda: closed.add_business_minutes(t, 10),
    ):
        with pytest.raises(NoOpenHours, match="no business hours in the two years"):
            call()
    assert not closed.is_open(t)
    assert closed.business_minutes_between(t, t + timedelta(days=30)) == 0


def test_holidays_on_every_day_of_the_year_close_the_calendar_too():
    every_day = {(d.month, d.day) for d in (date(2028, 1, 1) + timedelta(n) for n in range(366))}
    closed = cal("Europe/Rome", ALWAYS, yearly=every_day)
    with pytest.raises(NoOpenHours):
        closed.next_open(at("Europe/Rome", 2026, 5, 11, 10))
