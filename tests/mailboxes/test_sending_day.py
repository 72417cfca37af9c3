""" "Sent today" on the settings pages is the throttle's own day, whoever looks at it, and the
pages say which day that is."""

import re
from datetime import UTC, datetime
from html import unescape

from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from mailboxes.models.outbound import DAY, sending_day, window_start
from mailboxes.outbox import throttle
from tests import clock
from tests.mailboxes.inboxes import offline_mailbox


def test_the_day_window_is_the_projects_whatever_time_zone_is_active(settings):
    assert settings.TIME_ZONE == "UTC"
    now = datetime(2026, 3, 10, 20, 0, tzinfo=UTC)  # already March 11 in Kolkata
    midnight = datetime(2026, 3, 10, tzinfo=UTC)
    for zone in ("Asia/Kolkata", "America/Los_Angeles", "UTC"):
        with timezone.override(zone):
            assert window_start(DAY, now) == midnight
            day = sending_day(now)
        assert (day.start, day.end, day.zone) == (
            midnight,
            datetime(2026, 3, 11, tzinfo=UTC),
            "UTC",
        )
        assert day.date.isoformat() == "2026-03-10"


def test_a_project_day_runs_midnight_to_midnight_in_its_own_zone(settings):
    settings.TIME_ZONE = "Europe/Paris"
    # 23:30 UTC on March 28 is already March 29 in Paris, the night clocks go forward.
    day = sending_day(datetime(2026, 3, 28, 23, 30, tzinfo=UTC))
    assert day.date.isoformat() == "2026-03-29"
    assert day.start == datetime(2026, 3, 28, 23, 0, tzinfo=UTC)
    assert day.end == datetime(2026, 3, 29, 22, 0, tzinfo=UTC)  # a 23-hour day


def send_tokens(mailbox, n):
    """What the sending worker takes for each email it sends (outbox/throttle.py)."""
    for _ in range(n):
        with transaction.atomic():
            throttle.take(mailbox)


def test_settings_count_the_throttles_day_in_a_viewers_own_time_zone(client, owner, admin_user, db):
    inbox = offline_mailbox(owner)
    clock.inside_one(clock.DAY, needs=30)  # both pages read the same day's count
    send_tokens(inbox, 6)
    owner.time_zone = "Asia/Kolkata"
    owner.save()
    client.force_login(owner)
    html = unescape(client.get(reverse("mailboxes:settings")).content.decode())
    assert "Sent today: <strong>6 of 500</strong>" in html
    today = timezone.now().astimezone(UTC)
    assert (
        f"“Sent today” counts {today:%A} {today.day} {today:%B %Y}, midnight to midnight UTC"
        in html
    )
    # Midnight UTC is 05:30 in Kolkata.
    assert "In your time zone (Asia/Kolkata) that is" in html and "05:30 to" in html

    admin_user.time_zone = "America/Los_Angeles"
    admin_user.save()
    client.force_login(admin_user)
    html = unescape(client.get(reverse("mailboxes:all-inboxes")).content.decode())
    assert re.search(r"\d+ of 20 / 6 of 500", html)
    assert "In your time zone (America/Los_Angeles) that is" in html
