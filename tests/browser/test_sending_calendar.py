"""Settings > Sending calendar (admins) and each user's working hours on Settings > General,
clicked through as a person would, at 1280 and 390 px; screenshots under
/tmp/pages-screens/."""

import re
from datetime import date
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from records.models import BusinessCalendar, Holiday
from tests.browser.conftest import open_settings
from tests.browser.fit import SIZES, assert_fits, open_at

pytestmark = pytest.mark.browser
SCREENSHOTS = Path("/tmp/pages-screens")


def open_section(page, section):
    """Settings from the top bar (behind the menu button on a phone), then `section`."""
    open_settings(page, section)
    expect(page.get_by_role("heading", name=section, level=1)).to_be_visible()


def day(scope, name):
    """A weekday's row of the hours widget: its ranges, its Closed box and its error."""
    return scope.locator(".week-day").filter(has_text=name)


@pytest.mark.parametrize("size", SIZES)
def test_admin_sets_hours_fixes_an_inverted_range_and_keeps_the_holiday_list(
    new_page, login, admin_user, size
):
    Holiday.objects.create(date=date(2020, 6, 1), name="Company anniversary")
    page = open_at(new_page, size)
    login(page, "admin")
    open_section(page, "Sending calendar")
    hours = page.locator("#calendar-hours")
    hours.get_by_label("Time zone").select_option("Europe/Rome")
    page.get_by_role("textbox", name="Monday").fill("09:00-12:30, 13:30-18:00")
    page.get_by_role("textbox", name="Wednesday").fill("18:00-09:00")
    page.get_by_role("checkbox", name="Saturday closed").uncheck()
    page.get_by_role("textbox", name="Saturday").fill("10:00-13:00")
    hours.get_by_role("button", name="Save hours").click()

    wednesday = day(page, "Wednesday")
    expect(wednesday.get_by_role("alert")).to_have_text("18:00-09:00 ends before it starts.")
    expect(wednesday.get_by_role("textbox")).to_have_value("18:00-09:00")
    expect(page.get_by_role("textbox", name="Monday")).to_have_value("09:00-12:30, 13:30-18:00")
    expect(page.get_by_role("textbox", name="Saturday")).to_have_value("10:00-13:00")
    expect(page.locator(".week-day .error")).to_have_count(1)
    # Beside that day: below its field, not off at the top of the page.
    field, error = (
        wednesday.get_by_role("textbox").bounding_box(),
        wednesday.get_by_role("alert").bounding_box(),
    )
    assert 0 <= error["y"] - (field["y"] + field["height"]) < 30
    assert_fits(page, SCREENSHOTS / size / "calendar-inverted-range.png")
    assert not BusinessCalendar.objects.exists()

    page.get_by_role("textbox", name="Wednesday").fill("09:00-17:00")
    hours.get_by_role("button", name="Save hours").click()
    expect(page.get_by_role("status")).to_have_text("Business hours saved.")
    expect(page.get_by_role("textbox", name="Monday")).to_have_value("09:00-12:30, 13:30-18:00")
    expect(page.get_by_role("checkbox", name="Sunday closed")).to_be_checked()
    assert BusinessCalendar.objects.get().weekly_hours[5] == [["10:00", "13:00"]]

    eve = date(timezone.now().year + 1, 12, 24)
    adding = page.locator("#holiday-add")
    adding.get_by_label("Date").fill(eve.isoformat())
    adding.get_by_label("Name").fill("Christmas Eve, office closed")
    adding.get_by_role("button", name="Add holiday").click()
    expect(page.get_by_role("status")).to_have_text("Holiday added: Christmas Eve, office closed.")
    coming = page.locator("table.holidays").first.locator("tbody tr")
    expect(coming.filter(has_text="Christmas Eve")).to_contain_text(eve.strftime("%a %-d %b %Y"))

    importing = page.locator("#holiday-import")
    importing.get_by_label("Country").select_option(label="Italy")
    importing.get_by_role("button", name="Import holidays").click()
    expect(page.get_by_role("status")).to_have_text(re.compile(r"^Imported \d+ holidays of Italy"))
    # Next year's is to come; this year's too, or among the past ones (folded away).
    expect(coming.filter(has_text="Liberation Day").last).to_contain_text("Italy")
    every = page.locator("table.holidays tbody tr")
    expect(every.filter(has_text="Liberation Day")).to_have_count(2)
    # Past ones are folded away until asked for.
    anniversary = page.get_by_text("Company anniversary", exact=True)
    expect(anniversary).to_be_hidden()
    page.get_by_text(re.compile(r"^\d+ past holidays?$")).click()
    expect(anniversary).to_be_visible()
    assert_fits(page, SCREENSHOTS / size / "calendar-holidays.png")

    coming.filter(has_text="Christmas Eve").get_by_role("button", name="Delete").click()
    expect(page.get_by_role("status")).to_have_text(
        "Holiday deleted: Christmas Eve, office closed."
    )
    expect(every.filter(has_text="Christmas Eve")).to_have_count(0)
    assert not Holiday.objects.filter(name__startswith="Christmas Eve").exists()
    assert Holiday.objects.filter(country="IT").count() >= 24


@pytest.mark.parametrize("size", SIZES)
def test_a_user_sets_their_working_hours_on_their_general_page(new_page, login, owner, size):
    page = open_at(new_page, size)
    login(page, "owner")
    open_section(page, "General")
    section = page.locator("#pref-working-hours")
    expect(section.get_by_role("heading")).to_have_text("Working hours")
    # Empty: the account's hours, shown greyed in each day's field.
    expect(section.get_by_role("textbox", name="Monday")).to_have_attribute(
        "placeholder", "09:00-17:00"
    )
    expect(section.get_by_role("textbox", name="Sunday")).to_have_attribute("placeholder", "Closed")

    page.get_by_label("Time zone").select_option("America/New_York")
    for name in ("Monday", "Tuesday", "Wednesday", "Thursday"):
        section.get_by_role("textbox", name=name).fill("07:30-15:30")
    section.get_by_role("checkbox", name="Saturday closed").check()
    section.get_by_role("checkbox", name="Sunday closed").check()
    page.get_by_role("button", name="Save").click()

    # Friday was forgotten: said beside it, nothing saved, what was typed still there.
    friday = day(section, "Friday")
    expect(friday.get_by_role("alert")).to_have_text("Type this day's hours, or tick Closed.")
    expect(section.get_by_role("textbox", name="Monday")).to_have_value("07:30-15:30")
    assert_fits(page, SCREENSHOTS / size / "general-working-hours-error.png")
    owner.refresh_from_db()
    assert (owner.time_zone, owner.working_hours) == ("UTC", [])

    section.get_by_role("textbox", name="Friday").fill("07:30-12:00")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text("Your preferences are saved.")
    expect(section.get_by_role("textbox", name="Friday")).to_have_value("07:30-12:00")
    expect(section.get_by_role("checkbox", name="Sunday closed")).to_be_checked()
    assert_fits(page, SCREENSHOTS / size / "general-working-hours.png")
    owner.refresh_from_db()
    assert owner.time_zone == "America/New_York"
    assert owner.working_hours[4] == [["07:30", "12:00"]] and owner.working_hours[6] == []
