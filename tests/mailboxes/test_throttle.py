"""Which windows a send's tokens come from (mailboxes/outbox/throttle.py): every minute and day
window it may land in, given when it is handed over and how long it may take to land.

The moments are given, not waited for: these run at any time of day, on every database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import transaction

from mailboxes.models import Mailbox, SendCounter
from mailboxes.outbox import throttle

NOON = datetime(2025, 3, 14, 12, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)
MINUTE = timedelta(minutes=1)


@pytest.fixture
def inbox(owner):
    return Mailbox.objects.create(
        kind="personal",
        provider="imap",
        email="limits@crm.example",
        owner=owner,
        send_per_minute=2,
        send_per_day=100,
    )


def take(mailbox, now: datetime, margin: float = 0.0) -> throttle.Tokens:
    with transaction.atomic():
        return throttle.take(mailbox, now, margin)


def counts(mailbox, window: str) -> dict[datetime, int]:
    rows = SendCounter.objects.filter(mailbox=mailbox, window=window)
    return {start.astimezone(UTC): count for start, count in rows.values_list("starts_at", "count")}


@pytest.mark.django_db
def test_a_send_that_can_only_land_in_this_minute_takes_this_minutes_token_alone(inbox):
    tokens = take(inbox, NOON + 50 * SECOND, margin=5.0)

    assert counts(inbox, "minute") == {NOON: 1}
    assert counts(inbox, "day") == {NOON.replace(hour=0): 1}
    assert tokens.until == NOON + MINUTE


@pytest.mark.django_db
def test_a_send_that_may_land_in_the_next_minute_counts_in_both(inbox):
    tokens = take(inbox, NOON + 57 * SECOND, margin=5.0)

    assert counts(inbox, "minute") == {NOON: 1, NOON + MINUTE: 1}
    assert counts(inbox, "day") == {NOON.replace(hour=0): 1}  # the same day, once
    assert tokens.until == NOON + 2 * MINUTE
    # The next minute has one token left for sends made in it.
    take(inbox, NOON + MINUTE + SECOND)
    with pytest.raises(throttle.OverLimit) as over:
        take(inbox, NOON + MINUTE + 2 * SECOND)
    assert over.value.retry_at == NOON + 2 * MINUTE


@pytest.mark.django_db
def test_when_the_next_minute_is_full_the_send_waits_for_the_one_after(inbox):
    take(inbox, NOON + 58 * SECOND, margin=5.0)
    take(inbox, NOON + 58 * SECOND, margin=5.0)

    with pytest.raises(throttle.OverLimit) as over:
        take(inbox, NOON + 10 * SECOND)  # this minute is full
    assert over.value.retry_at == NOON + MINUTE
    SendCounter.objects.filter(mailbox=inbox, starts_at=NOON, window="minute").update(count=1)
    with pytest.raises(throttle.OverLimit) as over:
        take(inbox, NOON + 59 * SECOND, margin=5.0)  # this one has room, the next has none
    assert over.value.retry_at == NOON + 2 * MINUTE
    # Refused, it took nothing.
    assert counts(inbox, "minute") == {NOON: 1, NOON + MINUTE: 2}
    assert counts(inbox, "day") == {NOON.replace(hour=0): 2}


@pytest.mark.django_db
def test_before_local_midnight_a_send_counts_in_both_days(inbox, settings):
    # Days run midnight to midnight in the project's time zone, half an hour off UTC here.
    settings.TIME_ZONE = "Asia/Kolkata"
    midnight = datetime(2025, 3, 15, tzinfo=ZoneInfo("Asia/Kolkata"))

    take(inbox, midnight - 2 * SECOND, margin=5.0)

    assert counts(inbox, "minute") == {midnight - MINUTE: 1, midnight: 1}
    assert counts(inbox, "day") == {midnight - timedelta(days=1): 1, midnight: 1}


@pytest.mark.django_db
def test_once_answered_a_send_gives_back_the_token_of_a_minute_it_cannot_have_landed_in(inbox):
    tokens = take(inbox, NOON + 57 * SECOND, margin=5.0)

    throttle.settle(tokens, NOON + 57.1 * SECOND, NOON + 57.2 * SECOND)

    assert counts(inbox, "minute") == {NOON: 1, NOON + MINUTE: 0}
    assert counts(inbox, "day") == {NOON.replace(hour=0): 1}


@pytest.mark.django_db
def test_a_send_answered_after_the_minute_turned_keeps_both_tokens(inbox):
    tokens = take(inbox, NOON + 57 * SECOND, margin=5.0)

    # It may have landed on either side: the server stamps it before its answer arrives.
    throttle.settle(tokens, NOON + 59.9 * SECOND, NOON + MINUTE + 0.1 * SECOND)

    assert counts(inbox, "minute") == {NOON: 1, NOON + MINUTE: 1}


@pytest.mark.django_db
def test_a_send_that_landed_late_counts_where_it_landed_over_the_limit(inbox):
    tokens = take(inbox, NOON + 30 * SECOND, margin=5.0)
    take(inbox, NOON + MINUTE + SECOND)
    take(inbox, NOON + MINUTE + SECOND)  # the next minute is full

    throttle.settle(tokens, NOON + 30 * SECOND, NOON + MINUTE + 2 * SECOND)

    # Counted in the minute it landed in, over the limit: that minute gives out no more.
    assert counts(inbox, "minute") == {NOON: 1, NOON + MINUTE: 3}
    assert counts(inbox, "day") == {NOON.replace(hour=0): 3}  # its day was already counted


@pytest.mark.django_db
def test_tokens_given_back_leave_every_window_as_it_was(inbox):
    tokens = take(inbox, NOON + 58 * SECOND, margin=5.0)

    throttle.give_back(tokens)

    assert counts(inbox, "minute") == {NOON: 0, NOON + MINUTE: 0}
    assert counts(inbox, "day") == {NOON.replace(hour=0): 0}


# -- the day counts recipients ---------------------------------------------------------------

DAY_START = NOON.replace(hour=0)


@pytest.mark.django_db
def test_an_email_to_three_people_takes_one_token_of_the_minute_and_three_of_the_day(inbox):
    with transaction.atomic():
        throttle.take(inbox, NOON + 10 * SECOND, recipients=3)

    assert counts(inbox, "minute") == {NOON: 1}
    assert counts(inbox, "day") == {DAY_START: 3}


@pytest.mark.django_db
def test_recipients_over_what_is_left_of_the_day_wait_for_tomorrow_and_take_nothing(inbox):
    inbox.send_per_day = 5
    with transaction.atomic():
        throttle.take(inbox, NOON, recipients=3)

    with pytest.raises(throttle.OverLimit) as over, transaction.atomic():
        throttle.take(inbox, NOON + MINUTE, recipients=3)  # 6 of 5

    assert over.value.window == "day"
    assert over.value.retry_at == DAY_START + timedelta(days=1)
    assert "5 recipients a day" in over.value.describe()
    assert counts(inbox, "day") == {DAY_START: 3}
    assert counts(inbox, "minute") == {NOON: 1}  # rolled back with the refused day
    with transaction.atomic():
        throttle.take(inbox, NOON + MINUTE, recipients=2)  # exactly the day's last two
    assert counts(inbox, "day") == {DAY_START: 5}


@pytest.mark.django_db
def test_an_email_to_more_people_than_the_day_allows_goes_alone_on_a_fresh_day(inbox):
    inbox.send_per_day = 5
    with transaction.atomic():
        throttle.take(inbox, NOON, recipients=40)  # the whole day, not never

    assert counts(inbox, "day") == {DAY_START: 5}
    with pytest.raises(throttle.OverLimit), transaction.atomic():
        throttle.take(inbox, NOON + MINUTE)


@pytest.mark.django_db
def test_tokens_of_many_recipients_are_given_back_and_settled_whole(inbox):
    tokens = take(inbox, NOON + 58 * SECOND, margin=5.0)
    many = throttle.tokens_for(inbox, NOON + 58 * SECOND, 5.0, recipients=4)
    with transaction.atomic():
        throttle.take(inbox, NOON + 58 * SECOND, 5.0, recipients=4)
    assert counts(inbox, "day") == {DAY_START: 5}

    throttle.give_back(tokens)
    throttle.settle(many, NOON + 58.1 * SECOND, NOON + 58.2 * SECOND)

    assert counts(inbox, "minute") == {NOON: 1, NOON + MINUTE: 0}
    assert counts(inbox, "day") == {DAY_START: 4}


@pytest.mark.django_db
def test_a_send_that_landed_on_the_next_day_counts_its_recipients_there(inbox):
    midnight = DAY_START + timedelta(days=1)
    with transaction.atomic():
        tokens = throttle.take(inbox, midnight - 30 * SECOND, recipients=3)

    throttle.settle(tokens, midnight - 30 * SECOND, midnight + SECOND)

    assert counts(inbox, "day") == {DAY_START: 3, midnight: 3}


# -- a source's own minute limit (sequence email: 3 a minute per inbox) ---------------------------


def take_for(mailbox, now: datetime, source: str, margin: float = 0.0) -> throttle.Tokens:
    with transaction.atomic():
        return throttle.take(mailbox, now, margin, source=source)


@pytest.mark.django_db
def test_sequence_email_counts_in_a_minute_window_of_its_own_beside_the_inboxs(inbox):
    inbox.send_per_minute = 10
    inbox.save()
    for n in range(3):
        take_for(inbox, NOON + n * SECOND, "sequence")
    with pytest.raises(throttle.OverLimit) as over:
        take_for(inbox, NOON + 5 * SECOND, "sequence")
    assert over.value.source == "sequence"
    assert over.value.retry_at == NOON + MINUTE
    assert over.value.describe().startswith("Queued: waiting for the 3 a minute sequence limit")
    # One-to-one mail of the same inbox still has the inbox's own minute.
    take_for(inbox, NOON + 6 * SECOND, "one_to_one")
    assert counts(inbox, "seq") == {NOON: 3}
    assert counts(inbox, "minute") == {NOON: 4}
    # The next minute takes sequence email again.
    take_for(inbox, NOON + MINUTE, "sequence")
    assert counts(inbox, "seq") == {NOON: 3, NOON + MINUTE: 1}


@pytest.mark.django_db
def test_a_sequence_send_near_the_minutes_end_holds_and_settles_both_sequence_minutes(inbox):
    inbox.send_per_minute = 10
    inbox.save()
    tokens = take_for(inbox, NOON + 58 * SECOND, "sequence", margin=4.0)
    assert counts(inbox, "seq") == {NOON: 1, NOON + MINUTE: 1}
    # Answered before the minute turned: the next minute's sequence token comes back.
    throttle.settle(tokens, NOON + 58 * SECOND, NOON + 59 * SECOND)
    assert counts(inbox, "seq") == {NOON: 1, NOON + MINUTE: 0}
    assert counts(inbox, "minute") == {NOON: 1, NOON + MINUTE: 0}


@pytest.mark.django_db
def test_the_inbox_limit_still_binds_sequence_email(inbox):
    take_for(inbox, NOON, "sequence")
    take_for(inbox, NOON + SECOND, "one_to_one")
    with pytest.raises(throttle.OverLimit) as over:
        take_for(inbox, NOON + 2 * SECOND, "sequence")
    assert over.value.source is None  # the inbox's own limit: all its mail waits
