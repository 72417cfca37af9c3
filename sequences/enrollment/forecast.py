"""When each step of an enrollment will go out, shown before the rep enrolls anyone.

Steps fall due as sequences/schedule.py says (the enrollment's zone, business days, holidays,
the send window), each after the one before it really ran. An email then goes out only when
the From inbox can send it: at most EMAILS_PER_MINUTE_PER_INBOX sequence emails a minute (the
batch's first emails spread out) and the inbox's daily limit, counting what the inbox already
sent or has queued today and, on later days, its emails scheduled then and the next email of
each of its other enrollments due then (their steps after that are not foreseen). An email that
must wait is shown at its real time, with why.

`forecast` is pure: the inbox's capacity (`Capacity`) and `now` are passed in.
"""

from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from django.db.models import Count, Exists, F, OuterRef
from django.db.models.functions import TruncDay
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from mailboxes.constants import SendStatus
from mailboxes.models import Mailbox, Outbound
from mailboxes.models.outbound import DAY, MINUTE, window_start
from mailboxes.outbox.throttle import ONE_MINUTE, next_window_start
from records.calendar.clock import Calendar

from ..constants import EMAILS_PER_MINUTE_PER_INBOX, EnrollmentStatus, StepKind
from ..models import Enrollment, Sequence, Step
from ..schedule import calendar_for, due_after
from .services import Plan, inbox_usage


@dataclass(frozen=True)
class Capacity:
    """What the From inbox may still send: per minute (sequence emails), per day, and how many
    of today's the inbox used or has queued already; `booked`, by the start of each later day
    (`window_start(DAY, …)`), what is already bound to go out that day."""

    per_minute: int
    per_day: int
    used_today: int = 0
    booked: dict = field(default_factory=dict)

    @classmethod
    def of(cls, mailbox: Mailbox, now: datetime) -> "Capacity":
        return cls(
            min(EMAILS_PER_MINUTE_PER_INBOX, mailbox.send_per_minute),
            mailbox.send_per_day,
            inbox_usage(mailbox, now),
            booked_days(mailbox, now),
        )


def booked_days(mailbox: Mailbox, now: datetime) -> dict[datetime, int]:
    """Per later day (by its start), the inbox's emails scheduled for it and the live
    enrollments whose next step, an email, falls due then: two grouped queries."""
    tomorrow = next_window_start(DAY, now)
    day = TruncDay("at", tzinfo=timezone.get_default_timezone())
    scheduled = Outbound.objects.filter(
        mailbox=mailbox, status=SendStatus.SCHEDULED, scheduled_at__gte=tomorrow
    ).annotate(at=F("scheduled_at"))
    email_step = Step.objects.filter(
        sequence=OuterRef("sequence"), position=OuterRef("next_position"), kind=StepKind.AUTO_EMAIL
    )
    due = Enrollment.objects.filter(
        Exists(email_step),
        mailbox=mailbox,
        status__in=EnrollmentStatus.live(),
        due_at__gte=tomorrow,
    ).annotate(at=F("due_at"))
    booked: dict[datetime, int] = {}
    for rows in (scheduled, due):
        for start, count in rows.values_list(day).annotate(n=Count("pk")).order_by():
            booked[start] = booked.get(start, 0) + count
    return booked


@dataclass
class _Slots:
    """The inbox's minutes and days as the batch fills them."""

    capacity: Capacity
    now: datetime
    minutes: dict = field(default_factory=dict)
    days: dict = field(default_factory=dict)

    def __post_init__(self):
        self.days.update(self.capacity.booked)
        self.days[window_start(DAY, self.now)] = self.capacity.used_today

    def take(self, due: datetime, cal: Calendar) -> tuple[datetime, bool]:
        """When an email due at `due` goes out, and whether it waited for the daily limit."""
        at, waited = max(due, self.now), False
        while True:
            day = window_start(DAY, at)
            if self.days.get(day, 0) >= max(self.capacity.per_day, 1):
                at, waited = cal.next_open(next_window_start(DAY, at)), True
                continue
            minute = window_start(MINUTE, at)
            if self.minutes.get(minute, 0) >= max(self.capacity.per_minute, 1):
                at = minute + ONE_MINUTE
                continue
            self.minutes[minute] = self.minutes.get(minute, 0) + 1
            self.days[day] = self.days.get(day, 0) + 1
            return at, waited


@dataclass(frozen=True)
class StepTime:
    """When one step goes out for one contact."""

    position: int
    kind: str
    at: datetime
    time_zone: str
    waits_for_limit: bool = False  # an email held back by the inbox's daily limit
    sequence_waits: bool = False  # a task the sequence waits on until it is completed
    after_task: bool = False  # follows such a task: on time only if it is done when due

    @property
    def when(self) -> str:
        return formats.date_format(self.at.astimezone(ZoneInfo(self.time_zone)), "D j M H:i")

    @property
    def words(self) -> str:
        if self.kind == StepKind.AUTO_EMAIL:
            text = _("Step %(n)d: %(when)s") % {"n": self.position + 1, "when": self.when}
        else:
            text = _("Step %(n)d: task due %(when)s") % {"n": self.position + 1, "when": self.when}
        if self.waits_for_limit:
            text += _(", waits for the daily limit")
        if self.sequence_waits:
            text += _(", the sequence waits for it")
        if self.after_task:
            text += _(" (if the task before it is done on time)")
        return text


def forecast(
    sequence: Sequence,
    steps: list[Step],
    plans: list[Plan],
    capacity: Capacity,
    now: datetime,
    account: Calendar | None = None,
) -> dict[int, list[StepTime]]:
    """Each contact's steps with when they go out, by contact id, the batch in its order."""
    account = account or Calendar.for_account()
    slots = _Slots(capacity, now)
    result = {}
    for plan in plans:
        cal = calendar_for(sequence, plan.time_zone, account)
        result[plan.contact.pk] = _steps_of(sequence, steps, plan, cal, slots, now)
    return result


def _steps_of(sequence, steps, plan: Plan, cal, slots: _Slots, now) -> list[StepTime]:
    times: list[StepTime] = []
    ran_at = plan.send_at or now
    after_task = False
    for step in steps:
        if step.position < plan.start_position:
            continue
        due = ran_at
        if times:
            immediately = step.kind != StepKind.AUTO_EMAIL and step.create_task_immediately
            delay = int(plan.step_value(step, "delay_days"))
            due = due_after(cal, sequence, ran_at, delay, immediately)
        waited = False
        if step.is_email:
            due, waited = slots.take(due, cal)
        waits = not step.is_email and not step.continue_without_completing
        times.append(
            StepTime(step.position, step.kind, due, plan.time_zone, waited, waits, after_task)
        )
        after_task = after_task or waits
        ran_at = due
    return times
