"""The admin area: an admin defines a custom object type and its records are used like any other."""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import settings_menu

pytestmark = pytest.mark.browser


def add_property(page, label, kind, options=""):
    form = page.locator("form").filter(has=page.get_by_role("heading", name="Add a property"))
    form.get_by_role("textbox", name="Label").fill(label)
    form.get_by_role("combobox", name="Type").select_option(label=kind)
    form.get_by_role("textbox", name="Options").fill(options)
    form.get_by_role("button", name="Add property").click()
    expect(page.get_by_role("status")).to_have_text(f"Property {label} added.")


def test_admin_defines_vehicles_and_creates_one_with_its_properties(page, login, admin_user):
    login(page, "admin")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Settings").click()
    settings_nav = settings_menu(page)
    settings_nav.get_by_role("link", name="Custom objects").click()
    page.get_by_role("textbox", name="Name").fill("Vehicle")
    page.get_by_role("textbox", name="Plural").fill("Vehicles")
    page.get_by_role("button", name="Create object type").click()
    expect(page.get_by_role("heading", name="Vehicle / Vehicles")).to_be_visible()

    add_property(page, "Fuel", "Dropdown select", options="Petrol, Diesel, Electric")
    add_property(page, "Seats", "Number")
    properties = page.locator("table.records tbody tr")
    expect(properties.filter(has_text="Fuel")).to_contain_text("Petrol, Diesel, Electric")
    expect(properties.filter(has_text="Seats")).to_contain_text("Number")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Vehicles").click()
    expect(page.get_by_role("heading", name="Vehicles", level=1)).to_be_visible()
    page.get_by_role("link", name="Create vehicle").click()
    page.get_by_role("textbox", name="Name").fill("Fleet van 7")
    page.get_by_role("combobox", name="Fuel").select_option("Diesel")
    seats = page.get_by_role("spinbutton", name="Seats")
    seats.press_sequentially("7e")
    page.get_by_role("button", name="Save").click()

    # A number input refuses the value before it is sent; the browser explains in a bubble.
    assert seats.evaluate("el => el.validity.badInput") is True
    assert seats.evaluate("el => el.validationMessage") == "Please enter a number."
    expect(page.get_by_role("heading", name="Create vehicle")).to_be_visible()

    seats.fill("7")
    page.get_by_role("button", name="Save").click()

    expect(page.get_by_role("heading", name="Fleet van 7", level=1)).to_be_visible()
    about = page.locator("#properties")
    expect(about.get_by_role("heading")).to_have_text("About this vehicle")
    expect(about.locator("dt")).to_have_text(["Name", "Fuel", "Seats", "Owner"])
    expect(about.locator("dd")).to_have_text(
        ["Fleet van 7", "Diesel", "7", admin_user.display_name]
    )

    page.locator(".crumbs").get_by_role("link", name="Vehicles").click()
    row = page.locator("#results tbody tr").filter(has_text="Fleet van 7")
    expect(row).to_contain_text("Diesel")


def test_a_non_admin_finds_only_their_own_settings_and_gets_403_from_the_admin_area(
    page, login, owner
):
    login(page, "owner")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Settings").click()
    settings_nav = settings_menu(page)
    expect(settings_nav.get_by_role("group")).to_have_count(3)
    expect(settings_nav.get_by_role("group", name="You").get_by_role("link")).to_have_text(
        ["General"]
    )
    # Reps import the records they will own.
    expect(settings_nav.get_by_role("group", name="Data").get_by_role("link")).to_have_text(
        ["Import"]
    )
    expect(settings_nav.get_by_role("group", name="Email").get_by_role("link")).to_have_text(
        ["Connected inboxes", "Templates", "Snippets", "Signatures", "Transactional emails"]
    )
    expect(settings_nav.get_by_role("link", name="Custom objects")).to_have_count(0)

    response = page.goto("/settings/objects/")

    assert response.status == 403
    expect(page.get_by_role("heading", name="You don't have access to this")).to_be_visible()
    expect(page.get_by_text("Only account admins can open the admin area.")).to_be_visible()
