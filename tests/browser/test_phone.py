"""The record page on a phone-sized screen: no sideways scrolling, a menu, notes still work."""

from pathlib import Path

import pytest
from playwright.sync_api import expect

from records import timeline
from records.constants import ActivityKind
from records.services import association_create, task_create
from tests.browser.conftest import PHONE
from tests.browser.fit import assert_fits
from tests.factories import CompanyFactory, ContactFactory

pytestmark = pytest.mark.browser
SCREENSHOTS = Path("/tmp/phone-screens")


@pytest.fixture
def phone(new_page):
    # is_mobile honours <meta name=viewport>: a page wider than the screen would be zoomed out,
    # so innerWidth grows with the overflow and must be checked against the phone's width.
    return new_page(viewport=PHONE, is_mobile=True, has_touch=True)


def assert_fits_the_screen(page):
    scroll_width, inner_width = page.evaluate(
        "[document.scrollingElement.scrollWidth, window.innerWidth]"
    )
    assert (scroll_width, inner_width) == (PHONE["width"], PHONE["width"]), (
        f"the page is {scroll_width}px wide on a {PHONE['width']}px screen"
    )


def test_phone_menu_opens_and_a_note_can_be_added(phone, login, contact):
    login(phone, "owner")
    phone.goto(f"/records/contacts/{contact.pk}/")
    expect(phone.get_by_role("heading", name="Olivia Owned", level=1)).to_be_visible()
    assert_fits_the_screen(phone)

    nav = phone.get_by_role("navigation", name="Main")
    expect(nav).to_be_hidden()
    phone.get_by_text("☰").tap()
    expect(nav.get_by_role("link", name="Contacts")).to_be_visible()
    expect(phone.get_by_role("button", name="Log out")).to_be_visible()

    phone.locator("#note-form").get_by_role("textbox").fill("Called from the car.")
    phone.get_by_role("button", name="Save note").tap()

    expect(phone.locator("#timeline-items > li").first).to_contain_text("Called from the car.")
    assert_fits_the_screen(phone)


def test_record_page_with_a_long_address_does_not_scroll_sideways_on_a_phone(phone, login, owner):
    contact = ContactFactory(
        first_name="Christopher",
        last_name="Vanderbilt",
        job_title="Head of Procurement and Strategic Sourcing",
        owner=owner,
        emails=["christopher.vanderbilt@internationalshipping.example"],
    )
    association_create(contact, CompanyFactory(name="International Shipping", owner=owner))
    timeline.log(ActivityKind.NOTE, [contact], created_by=owner, body="Met at the trade fair.")
    task_create(owner, contact, title="Send the proposal", task_type="todo")
    login(phone, "owner")

    phone.goto(f"/records/contacts/{contact.pk}/")

    expect(phone.get_by_role("heading", name="Christopher Vanderbilt", level=1)).to_be_visible()
    assert_fits_the_screen(phone)


def test_settings_pages_fit_a_phone(phone, login, admin_user, owner):
    login(phone, admin_user.username)
    for path in ("/settings/users/", "/settings/connected-inboxes/", "/settings/inboxes/"):
        phone.goto(path)
        assert_fits_the_screen(phone)


def test_on_a_phone_the_settings_list_folds_behind_a_button_naming_the_page(
    phone, new_page, login, admin_user
):
    login(phone, "admin")
    phone.goto("/settings/")
    button = phone.locator(".settings-menu-label")
    # The page comes first: its heading on the first screen, the list of sections folded.
    expect(button).to_contain_text("Settings: General")
    expect(phone.get_by_role("navigation", name="Settings")).to_be_hidden()
    heading = phone.get_by_role("heading", name="General", level=1)
    assert heading.bounding_box()["y"] < 200
    assert_fits(phone, SCREENSHOTS / "settings-menu-folded-390.png")

    button.tap()
    nav = phone.get_by_role("navigation", name="Settings")
    expect(nav.get_by_role("link", name="API keys")).to_be_visible()
    assert_fits(phone, SCREENSHOTS / "settings-menu-open-390.png")
    nav.get_by_role("group", name="Account").get_by_role("link", name="All inboxes").tap()
    expect(phone.get_by_role("heading", name="All inboxes", level=1)).to_be_visible()
    expect(button).to_contain_text("Settings: All inboxes")
    expect(nav).to_be_hidden()

    # From the keyboard: Tab reaches the menu's box, Space opens the list.
    phone.locator("#settings-menu-toggle").focus()
    phone.keyboard.press("Space")
    expect(nav.get_by_role("link", name="All inboxes")).to_have_attribute("aria-current", "page")

    # On a wide screen there is no button: the list is always open beside the page.
    desk = new_page()
    login(desk, "admin")
    desk.goto("/settings/")
    expect(desk.locator(".settings-menu-label")).to_be_hidden()
    expect(desk.get_by_role("navigation", name="Settings")).to_be_visible()
