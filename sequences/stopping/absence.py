"""Out-of-office: how long an automatic reply with a return date pauses an enrollment."""

from datetime import date, datetime, time

from ..models import Enrollment
from ..schedule import calendar_for


def back_at(enrollment: Enrollment, return_date: date) -> datetime:
    """When the enrollment resumes after an out-of-office saying the contact is back on
    `return_date`: the start of business hours (or of the sequence's send window) one business
    day after that date, in the enrollment's time zone. A Friday return before a Monday
    holiday resumes on Tuesday: the contact gets a day to catch up before the next step.

    Raises records.calendar.clock.NoOpenHours when the calendar is never open."""
    cal = calendar_for(enrollment.sequence, enrollment.time_zone)
    midnight = datetime.combine(return_date, time(0), tzinfo=cal.tz)
    return cal.add_business_days(midnight, 1)
