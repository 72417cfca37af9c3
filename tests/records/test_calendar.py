"""The account's sending calendar and each user's working hours: the rows, the forms and the
admins' page (Settings > Sending calendar), holidays typed and imported with the `holidays`
library."""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings

from records.calendar.clock import Calendar
from records.calendar.countries import holidays_import, national_holidays
from records.calendar.hours import default_weekly_hours, parse_day, validate_weekly_hours
from records.models import BusinessCalendar, Holiday
from tests.factories import UserFactory
from tests.test_forms_keep_input import assert_kept

pytestmark = pytest.mark.django_db
URL = "/settings/calendar/"
OFFICE = {f"hours-{day}": "09:00-17:00" for day in ("mon", "tue", "wed", "thu", "fri")} | {
    "hours-sat_closed": "on",
    "hours-sun_closed": "on",
}


def hours_post(**changes) -> dict:
    return {"action": "hours", "hours-time_zone": "Europe/Rome", **OFFICE, **changes}


# -- typed hours ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("17:00-09:00", "17:00-09:00 ends before it starts."),
        ("09:00-13:00, 12:00-18:00", "09:00-13:00 and 12:00-18:00 overlap."),
        ("9 to 5", "“9 to 5” is not a range of hours: write it like 09:00-12:30."),
        ("09:00-25:00", "25:00 is not a time of day (00:00 to 24:00)."),
        ("09:75-12:00", "09:75 is not a time of day (00:00 to 24:00)."),
        ("noon-18:00", "“noon” is not a time: write it like 09:00."),
    ],
)
def test_hours_that_cannot_be_read_say_why(text, message):
    with pytest.raises(ValidationError) as refused:
        parse_day(text)
    assert refused.value.messages == [message]


def test_hours_are_read_loosely_sorted_and_touching_ranges_joined():
    assert parse_day("13:30 – 18:00; 9-12.30") == ((540, 750), (810, 1080))
    assert parse_day("09:00-12:00, 12:00-13:00") == ((540, 780),)
    assert parse_day("00:00-24:00") == ((0, 1440),)
    assert parse_day("") == ()


def test_stored_hours_are_checked_like_typed_ones():
    validate_weekly_hours(default_weekly_hours())
    for bad in ([], [[]] * 6, [[["17:00", "09:00"]]] + [[]] * 6, [[["9:00", "17:00"]]] + [[]] * 6):
        with pytest.raises(ValidationError):
            validate_weekly_hours(bad)


# -- the rows and the calendars built from them ---------------------------------------------


@override_settings(TIME_ZONE="Europe/Rome")
def test_until_an_admin_saves_one_the_account_works_monday_to_friday_nine_to_five():
    row = BusinessCalendar.load()
    assert row.pk == 1 and not BusinessCalendar.objects.exists()
    calendar = Calendar.for_account()
    assert calendar.tz == ZoneInfo("Europe/Rome")
    assert calendar.week == (((540, 1020),),) * 5 + ((), ())


def test_a_yearly_holiday_typed_years_ago_still_closes_its_day():
    Holiday.objects.create(date=date(2020, 12, 25), name="Christmas", yearly=True)
    Holiday.objects.create(date=date(2028, 12, 26), name="Saint Stephen")
    calendar = Calendar.for_account()
    assert not calendar.is_business_day(date(2028, 12, 25))  # a Monday
    monday = datetime(2028, 12, 25, 10, tzinfo=UTC)
    assert calendar.next_open(monday).date() == date(2028, 12, 27)


def test_a_users_calendar_is_their_hours_in_their_zone_with_the_accounts_holidays():
    BusinessCalendar.objects.create(time_zone="Europe/Rome")
    Holiday.objects.create(date=date(2026, 5, 1), name="Labour Day")
    everyone = UserFactory(time_zone="America/New_York")
    assert Calendar.for_user(everyone) == Calendar.for_account()
    early = UserFactory(time_zone="Asia/Tokyo", working_hours=[[["07:00", "15:00"]]] * 4 + [[]] * 3)
    account = Calendar.for_account()
    mine = Calendar.for_user(early, account)
    assert mine.tz == ZoneInfo("Asia/Tokyo") and mine.holidays == account.holidays
    thursday = datetime(2026, 4, 30, 10, tzinfo=ZoneInfo("Asia/Tokyo"))
    # Friday is not one of their days and Labour Day a holiday anyway: Monday 07:00 in Tokyo.
    assert mine.add_business_days(thursday, 1) == datetime(
        2026, 5, 4, 10, tzinfo=ZoneInfo("Asia/Tokyo")
    )
    assert mine.next_open(datetime(2026, 4, 30, 6, 30, tzinfo=UTC)).hour == 7


# -- the admins' page -----------------------------------------------------------------------


def test_only_admins_open_the_sending_calendar(client, teammate):
    client.force_login(teammate)
    assert client.get(URL).status_code == 403
    assert client.post(URL, hours_post()).status_code == 403
    holiday = Holiday.objects.create(date=date(2026, 8, 15), name="Ferragosto")
    assert client.post(f"/settings/calendar/holidays/{holiday.pk}/delete/").status_code == 403
    assert Holiday.objects.filter(pk=holiday.pk).exists()
    assert not BusinessCalendar.objects.exists()


def test_admin_saves_a_time_zone_and_split_hours(client, admin_user):
    client.force_login(admin_user)
    page = client.get(URL)
    assert page.status_code == 200 and 'value="09:00-17:00"' in page.content.decode()
    response = client.post(
        URL,
        hours_post(
            **{"hours-mon": "9-12:30, 13:30-18", "hours-sat_closed": "", "hours-sat": "10-12"}
        ),
    )
    assert response.status_code == 302
    row = BusinessCalendar.objects.get()
    assert row.time_zone == "Europe/Rome"
    assert row.weekly_hours[0] == [["09:00", "12:30"], ["13:30", "18:00"]]
    assert row.weekly_hours[5:] == [[["10:00", "12:00"]], []]


@pytest.mark.parametrize(
    ("day", "typed", "message"),
    [
        ("wed", "18:00-09:00", "18:00-09:00 ends before it starts."),
        ("thu", "09:00-13:00, 12:30-17:00", "09:00-13:00 and 12:30-17:00 overlap."),
        ("fri", "nine to five", "is not a range of hours"),
        ("tue", "", "Type this day&#x27;s hours, or tick Closed."),
    ],
)
def test_a_wrong_day_is_refused_beside_it_with_its_text_kept_and_nothing_saved(
    client, admin_user, day, typed, message
):
    client.force_login(admin_user)
    posted = hours_post(**{f"hours-{day}": typed, "hours-time_zone": "Asia/Tokyo"})
    response = client.post(URL, posted)
    page = response.content.decode()
    row = page.split(f'data-day="{day}"')[1].split("</div>")[0]
    assert message in row
    assert_kept(response, {k: v for k, v in posted.items() if k != "action"}, "calendar-hours")
    assert "Nothing was saved" in page
    assert not BusinessCalendar.objects.exists()


def test_a_week_with_every_day_closed_is_refused(client, admin_user):
    client.force_login(admin_user)
    closed = {f"hours-{d}_closed": "on" for d in ("mon", "tue", "wed", "thu", "fri")}
    response = client.post(URL, hours_post(**closed))
    assert "The account needs business hours on at least one day" in response.content.decode()
    assert not BusinessCalendar.objects.exists()


def test_an_unknown_time_zone_is_refused_and_the_hours_are_not_saved_either(client, admin_user):
    client.force_login(admin_user)
    response = client.post(URL, hours_post(**{"hours-time_zone": "Mars/Olympus"}))
    assert "Select a valid choice" in response.content.decode()
    assert not BusinessCalendar.objects.exists()


def test_admin_types_holidays_once_and_every_year_and_deletes_one(client, admin_user):
    client.force_login(admin_user)
    response = client.post(
        URL,
        {"action": "holiday", "holiday-date": "2026-12-25", "holiday-name": "Christmas",
         "holiday-yearly": "on"},
    )  # fmt: skip
    assert response.status_code == 302 and response["Location"] == URL + "#holidays"
    client.post(URL, {"action": "holiday", "holiday-date": "2026-08-14", "holiday-name": "Bridge"})
    christmas, bridge = Holiday.objects.order_by("name")[1], Holiday.objects.order_by("name")[0]
    assert (christmas.yearly, christmas.country, bridge.yearly) == (True, "", False)
    page = client.get(URL).content.decode()
    assert "25 December" in page and "every year" in page and "Fri 14 Aug 2026" in page
    client.post(f"/settings/calendar/holidays/{bridge.pk}/delete/")
    assert list(Holiday.objects.values_list("name", flat=True)) == ["Christmas"]


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("2026-02-31", "February 2026 has no day 31: it has 28 days."),
        ("2028-02-30", "February 2028 has no day 30: it has 29 days."),
        ("2026-13-01", "There is no month 13."),
        ("next friday", "Enter a valid date."),
    ],
)
def test_a_date_that_does_not_exist_is_refused_beside_it(client, admin_user, typed, message):
    client.force_login(admin_user)
    posted = {"holiday-date": typed, "holiday-name": "Made up", "holiday-yearly": "on"}
    response = client.post(URL, {"action": "holiday", **posted})
    assert message in response.content.decode()
    assert_kept(response, posted, "holiday-add")
    assert not Holiday.objects.exists()


def test_a_day_that_is_a_holiday_already_is_refused(client, admin_user):
    Holiday.objects.create(date=date(2020, 12, 25), name="Christmas", yearly=True)
    Holiday.objects.create(date=date(2026, 8, 15), name="Ferragosto")
    client.force_login(admin_user)
    for typed, yearly in (("2027-12-25", ""), ("2030-12-25", "on"), ("2026-08-15", "")):
        posted = {"holiday-date": typed, "holiday-name": "Again", "holiday-yearly": yearly}
        response = client.post(URL, {"action": "holiday", **posted})
        assert "This day is already a holiday" in response.content.decode()
    # Every year on a day that was once a one-off holiday: the yearly one covers it.
    client.post(
        URL, {"action": "holiday", "holiday-date": "2026-08-15", "holiday-name": "Ferragosto",
              "holiday-yearly": "on"},
    )  # fmt: skip
    assert Holiday.objects.filter(yearly=True).count() == 2


# -- importing a country's holidays ---------------------------------------------------------


def test_importing_italys_holidays_adds_its_dates_once_with_their_names(client, admin_user):
    Holiday.objects.create(date=date(2020, 12, 25), name="Natale", yearly=True)
    Holiday.objects.create(date=date(2026, 1, 6), name="Our own Epiphany")
    client.force_login(admin_user)
    response = client.post(
        URL, {"action": "import", "import-country": "IT", "import-years": "2026,2027"}
    )
    assert response.status_code == 302
    italy = national_holidays("IT", 2026) + national_holidays("IT", 2027)
    assert (date(2026, 4, 6), "Easter Monday") in italy  # the library's own rules
    imported = Holiday.objects.filter(country="IT")
    # Christmas (yearly) and 6 January 2026 (typed) were holidays already.
    assert imported.count() == len(italy) - 3
    assert not imported.filter(date__in=[date(2026, 12, 25), date(2027, 12, 25)]).exists()
    assert imported.get(date=date(2027, 3, 29)).name == "Easter Monday"
    page = client.get(response["Location"]).content.decode()
    added = len(italy) - 3
    assert f"Imported {added} holidays of Italy. 3 days were holidays already." in page
    # Importing again adds nothing.
    assert holidays_import("IT", [2026, 2027]).added == 0


def test_an_import_from_a_country_not_offered_is_refused(client, admin_user):
    client.force_login(admin_user)
    response = client.post(
        URL, {"action": "import", "import-country": "XX", "import-years": "2026"}
    )
    assert "Select a valid choice" in response.content.decode()
    assert not Holiday.objects.exists()


# -- each user's working hours on Settings > General -----------------------------------------


def general_post(**hours) -> dict:
    return {
        "profile-first_name": "Sara",
        "profile-last_name": "Neri",
        "profile-profile_name": "",
        "profile-time_zone": "Asia/Tokyo",
        **{f"hours-{key}": value for key, value in hours.items()},
    }


def test_a_user_sets_their_working_hours_and_empties_them_to_work_the_accounts(client, teammate):
    client.force_login(teammate)
    page = client.get("/settings/general/").content.decode()
    assert "Working hours" in page and 'placeholder="09:00-17:00"' in page
    days = {d: "08:00-16:00" for d in ("mon", "tue", "wed", "thu")} | {
        "fri": "08:00-12:00",
        "sat_closed": "on",
        "sun_closed": "on",
    }
    assert client.post("/settings/general/", general_post(**days)).status_code == 302
    teammate.refresh_from_db()
    assert teammate.time_zone == "Asia/Tokyo"
    assert teammate.working_hours[4] == [["08:00", "12:00"]] and teammate.working_hours[5] == []
    assert 'value="08:00-16:00"' in client.get("/settings/general/").content.decode()
    assert client.post("/settings/general/", general_post()).status_code == 302
    teammate.refresh_from_db()
    assert teammate.working_hours == []


def test_a_wrong_working_day_saves_nothing_not_even_the_profile(client, teammate):
    client.force_login(teammate)
    posted = general_post(mon="17:00-08:00", tue="08:00-16:00")
    response = client.post("/settings/general/", posted)
    page = response.content.decode()
    assert "17:00-08:00 ends before it starts." in page
    # Wednesday was left empty while other days have hours: it needs some, or Closed.
    assert page.count("Type this day&#x27;s hours, or tick Closed.") == 5
    assert_kept(response, posted)
    teammate.refresh_from_db()
    assert (teammate.first_name, teammate.time_zone, teammate.working_hours) == ("Test", "UTC", [])
