"""The forecast: the daily cap reached mid-batch, 3 a minute, business days, a zone east of UTC."""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from records.calendar.clock import Calendar, Holidays
from records.calendar.hours import default_weekly_hours, from_stored
from records.models import Contact
from sequences.constants import StepKind
from sequences.enrollment.forecast import Capacity, forecast
from sequences.enrollment.services import Plan
from sequences.models import Sequence, Step

ROME = ZoneInfo("Europe/Rome")
TOKYO = ZoneInfo("Asia/Tokyo")
# Wednesday 9 Dec 2026, 10:00 in Rome.
NOW = datetime(2026, 12, 9, 10, 0, tzinfo=ROME)


def account(holidays=()):
    return Calendar(ROME, from_stored(default_weekly_hours()), Holidays(dates=frozenset(holidays)))


def steps(sequence, *specs):
    return [
        Step(sequence=sequence, position=i, kind=kind, delay_days=delay, **extra)
        for i, (kind, delay, extra) in enumerate(specs)
    ]


def batch(n, tz="Europe/Rome", **fields):
    return [Plan(Contact(pk=i + 1), tz, **fields) for i in range(n)]


def test_first_emails_of_a_batch_go_out_three_a_minute():
    seq = Sequence(business_days_only=True)
    result = forecast(
        seq, steps(seq, (StepKind.AUTO_EMAIL, 0, {})), batch(7), Capacity(3, 500), NOW, account()
    )
    minutes = [times[0].at.astimezone(ROME).strftime("%H:%M") for times in result.values()]
    assert minutes == ["10:00", "10:00", "10:00", "10:01", "10:01", "10:01", "10:02"]


def test_the_daily_cap_reached_mid_batch_moves_the_rest_to_the_next_open_day_and_says_so():
    seq = Sequence(business_days_only=True)
    # 8 of 10 used today: two more go out today, the rest on Thursday when the calendar opens.
    result = forecast(
        seq, steps(seq, (StepKind.AUTO_EMAIL, 0, {})), batch(4), Capacity(3, 10, 8), NOW, account()
    )
    firsts = [times[0] for times in result.values()]
    assert [t.waits_for_limit for t in firsts] == [False, False, True, True]
    assert firsts[2].at == datetime(2026, 12, 10, 9, 0, tzinfo=ROME)
    assert firsts[3].at == datetime(2026, 12, 10, 9, 0, tzinfo=ROME)
    assert firsts[2].words == "Step 1: Thu 10 Dec 09:00, waits for the daily limit"


def test_later_steps_count_business_days_and_skip_a_holiday_and_tasks_hold_the_sequence():
    seq = Sequence(business_days_only=True)
    plan_steps = steps(
        seq,
        (StepKind.AUTO_EMAIL, 0, {}),
        (StepKind.CALL, 2, {}),
        (StepKind.AUTO_EMAIL, 1, {}),
    )
    friday = datetime(2026, 12, 11, 10, 0, tzinfo=ROME)
    (times,) = forecast(
        seq,
        plan_steps,
        [Plan(Contact(pk=1), "Europe/Rome", send_at=friday, overrides={"2": {"delay_days": 3}})],
        Capacity(3, 500),
        NOW,
        account(holidays=[date(2026, 12, 15)]),
    ).values()
    # Friday; two business days later skipping the weekend and Tuesday's holiday: Wednesday;
    # then this contact's own delay of 3 business days: the Monday after.
    assert [t.at for t in times] == [
        friday,
        datetime(2026, 12, 16, 10, 0, tzinfo=ROME),
        datetime(2026, 12, 21, 10, 0, tzinfo=ROME),
    ]
    assert times[1].words == "Step 2: task due Wed 16 Dec 10:00, the sequence waits for it"
    assert times[2].after_task and not times[0].after_task


def test_a_task_that_does_not_hold_the_sequence_says_nothing_of_waiting():
    seq = Sequence(business_days_only=True)
    plan_steps = steps(
        seq, (StepKind.TASK, 0, {"continue_without_completing": True}), (StepKind.AUTO_EMAIL, 1, {})
    )
    (times,) = forecast(seq, plan_steps, batch(1), Capacity(3, 500), NOW, account()).values()
    assert not times[0].sequence_waits and not times[1].after_task


def test_dates_read_in_a_zone_east_of_utc_within_its_send_window():
    from datetime import time

    seq = Sequence(business_days_only=True, window_start=time(9), window_end=time(11))
    plan_steps = steps(seq, (StepKind.AUTO_EMAIL, 0, {}), (StepKind.AUTO_EMAIL, 1, {}))
    # Wednesday 03:00 UTC is 12:00 in Tokyo; the first email goes now, the next one a business
    # day later past the window, so Friday 09:00 in Tokyo (Friday 00:00 UTC).
    now = datetime(2026, 12, 9, 3, 0, tzinfo=UTC)
    (times,) = forecast(
        seq, plan_steps, batch(1, "Asia/Tokyo"), Capacity(3, 500), now, account()
    ).values()
    assert times[0].words == "Step 1: Wed 9 Dec 12:00"
    assert times[1].at == datetime(2026, 12, 11, 9, 0, tzinfo=TOKYO)
    assert times[1].words == "Step 2: Fri 11 Dec 09:00"


def test_other_enrollments_next_emails_and_scheduled_mail_fill_later_days(owner, settings):
    """The inbox's daily limit on a later day counts what is already bound to go out then:
    another enrollment's next email due that day and an email scheduled for it."""
    from mailboxes.constants import SendSource
    from mailboxes.outbox.enqueue import OutgoingEmail, Source, email_enqueue
    from privacy.checks import SenderContext
    from sequences.enrollment.forecast import booked_days
    from sequences.enrollment.services import inbox_usage
    from tests.factories import ContactFactory
    from tests.sequences.enrollment_support import inbox_of, three_steps
    from tests.sequences.stopping_setup import enroll

    settings.TIME_ZONE = "Europe/Rome"
    inbox = inbox_of(owner, send_per_day=2)
    thursday = datetime(2026, 12, 10, 10, 0, tzinfo=ROME)
    busy = three_steps(owner)  # its step 1 (position 0) is an email
    other = enroll(owner, inbox, ContactFactory(), busy)
    other.next_position, other.due_at = 0, thursday
    other.save()
    later = ContactFactory()
    email_enqueue(
        OutgoingEmail(
            mailbox=inbox,
            from_address=inbox.email,
            from_name="",
            subject="See you Thursday",
            html="<p>Hello</p>",
            to=[later.email],
            privacy_context=SenderContext.ONE_TO_ONE,
            source=Source(SendSource.ONE_TO_ONE),
            sender=owner,
            contacts=[later],
            scheduled_at=thursday.replace(hour=15),
        )
    )
    assert inbox_usage(inbox, NOW) == 0  # nothing of it counts today
    booked = booked_days(inbox, NOW)
    assert booked == {datetime(2026, 12, 10, tzinfo=ROME): 2}

    seq = Sequence(business_days_only=True)
    plan_steps = steps(seq, (StepKind.AUTO_EMAIL, 0, {}), (StepKind.AUTO_EMAIL, 1, {}))
    capacity = Capacity(3, 2, 0, booked)
    (times,) = forecast(seq, plan_steps, batch(1), capacity, NOW, account()).values()
    # Today is free; Thursday is full, so step 2 goes Friday when the calendar opens.
    assert times[0].at == NOW and not times[0].waits_for_limit
    assert times[1].at == datetime(2026, 12, 11, 9, 0, tzinfo=ROME)
    assert times[1].words == "Step 2: Fri 11 Dec 09:00, waits for the daily limit"
