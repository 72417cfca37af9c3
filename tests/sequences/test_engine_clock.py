"""A three-step sequence driven by the clock (the tick's `now`): across a weekend, a holiday
and a DST change, in two time zones, each step falls due at the same wall-clock time on the
next business day of the contact's zone; step 2 replies in step 1's thread, step 3 starts a
new one."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from mailboxes.models import Outbound
from records.models import Holiday
from sequences.constants import EnrollmentStatus
from sequences.engine.tick import tick
from tests.factories import ContactFactory
from tests.mailboxes.inboxes import offline_mailbox
from tests.sequences.engine_setup import email_step, enroll, make_sequence

pytestmark = pytest.mark.django_db
SECOND = timedelta(seconds=1)

# Rome: Friday 23 October 2026, 10:00 CEST. The weekend ends summer time (25 Oct), Monday 26
# is a holiday: step 2 on Tuesday 27, 10:00 CET (an hour later in UTC), step 3 on Wednesday.
ROME = [
    datetime(2026, 10, 23, 8, 0, tzinfo=UTC),
    datetime(2026, 10, 27, 9, 0, tzinfo=UTC),
    datetime(2026, 10, 28, 9, 0, tzinfo=UTC),
]
# New York: Friday 30 October, 10:00 EDT. The weekend ends daylight time there (1 Nov), Monday
# 2 November is a holiday: step 2 on Tuesday 3, 10:00 EST, step 3 on Wednesday 4.
NEW_YORK = [
    datetime(2026, 10, 30, 14, 0, tzinfo=UTC),
    datetime(2026, 11, 3, 15, 0, tzinfo=UTC),
    datetime(2026, 11, 4, 15, 0, tzinfo=UTC),
]


def test_three_steps_across_a_weekend_a_holiday_dst_and_two_zones(owner):
    for day in (date(2026, 10, 26), date(2026, 11, 2)):
        Holiday.objects.create(date=day, name="Holiday")
    inbox = offline_mailbox(owner)
    sequence = make_sequence(
        owner,
        [email_step(), email_step(subject=""), email_step(subject="Fresh start", new_thread=True)],
    )
    rome = enroll(sequence, ContactFactory(owner=owner, first_name="Rita"), inbox, ROME[0])
    new_york = enroll(
        sequence,
        ContactFactory(owner=owner, first_name="Nina"),
        inbox,
        NEW_YORK[0],
        tz="America/New_York",
    )
    expected = {rome.pk: ROME, new_york.pk: NEW_YORK}
    moments = sorted((at, pk) for pk, times in expected.items() for at in times)

    for at, pk in moments:
        assert tick(at - SECOND) == {}, f"nothing is due before {at}"
        assert tick(at) == {"email": 1}
        enrollment = type(rome).objects.get(pk=pk)
        step = expected[pk].index(at)
        if step < 2:
            assert enrollment.due_at == expected[pk][step + 1]
        else:
            assert enrollment.status == EnrollmentStatus.FINISHED

    for pk, name in ((rome.pk, "Rita"), (new_york.pk, "Nina")):
        first, second, third = (
            row.message
            for row in Outbound.objects.filter(source_id=pk)
            .select_related("message")
            .order_by("pk")
        )
        assert first.subject == f"Hello {name}" and not first.in_reply_to
        assert (second.thread, second.in_reply_to) == (first.thread, first.message_id)
        assert second.subject == f"Re: Hello {name}"
        assert third.thread != first.thread and not third.in_reply_to
        assert third.subject == "Fresh start"
