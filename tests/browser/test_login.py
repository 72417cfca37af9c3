"""Signing in through the login form."""

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_logging_in_with_the_form_shows_the_contacts_list(page, owner, contact):
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login/"))

    page.get_by_label("Username").fill("owner")
    page.get_by_label("Password").fill("pw")
    page.get_by_role("button", name="Log in").click()

    expect(page).to_have_url(re.compile(r"/records/contacts/$"))
    expect(page.get_by_role("heading", name="Contacts", level=1)).to_be_visible()
    expect(page.get_by_role("link", name="Olivia Owned")).to_be_visible()


def test_wrong_password_shows_the_error_and_keeps_the_username(page, owner):
    page.goto("/login/")
    page.get_by_label("Username").fill("owner")
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Log in").click()

    expect(page.get_by_role("alert")).to_contain_text(
        "Please enter a correct username and password"
    )
    expect(page).to_have_url(re.compile(r"/login/"))
    expect(page.get_by_label("Username")).to_have_value("owner")
    expect(page.get_by_label("Password")).to_have_value("")


def test_logging_in_returns_to_the_page_first_asked_for(page, owner, contact):
    page.goto(f"/records/contacts/{contact.pk}/")
    expect(page).to_have_url(re.compile(r"/login/\?next="))

    page.get_by_label("Username").fill("owner")
    page.get_by_label("Password").fill("pw")
    page.get_by_role("button", name="Log in").click()

    expect(page).to_have_url(re.compile(rf"/records/contacts/{contact.pk}/$"))
    expect(page.get_by_role("heading", name="Olivia Owned", level=1)).to_be_visible()


def test_too_many_wrong_passwords_lock_sign_in_and_the_page_says_so(page, owner, settings):
    page.goto("/login/")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        page.get_by_label("Username").fill("owner")
        page.get_by_label("Password").fill("not-the-password")
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("alert")).to_be_visible()

    page.get_by_label("Username").fill("owner")
    page.get_by_label("Password").fill("pw")
    page.get_by_role("button", name="Log in").click()

    expect(page.get_by_role("alert")).to_contain_text(
        "Too many failed sign-ins for this username or from this address, so signing in is "
        "locked for 15 minutes."
    )
    expect(page).to_have_url(re.compile(r"/login/"))
    expect(page.get_by_label("Username")).to_have_value("owner")


def test_pages_name_the_products_icon_and_ask_for_nothing_that_is_missing(page, owner):
    missing = []
    page.on("response", lambda r: missing.append(r.url) if r.status == 404 else None)
    page.goto("/login/")
    expect(page.get_by_role("button", name="Log in")).to_be_visible()

    href = page.locator("link[rel=icon]").get_attribute("href")
    icon = page.request.get(href)
    assert icon.status == 200
    assert icon.headers["content-type"].startswith("image/svg+xml")
    assert b"<svg" in icon.body()
    assert missing == []
