"""Creating a record from the list page's "Create" button."""

import re

import pytest
from playwright.sync_api import expect

from records.models import Contact

pytestmark = pytest.mark.browser


def test_creating_a_contact_needs_a_name_or_email_then_opens_the_new_record(page, login, owner):
    login(page, "owner")
    page.get_by_role("link", name="Create contact").click()
    expect(page.get_by_role("heading", name="Create contact")).to_be_visible()

    page.get_by_role("textbox", name="Job title").fill("Buyer")
    page.get_by_role("button", name="Save").click()

    expect(page.get_by_role("alert")).to_have_text("Give the contact a name or an email address.")
    expect(page.get_by_role("textbox", name="Job title")).to_have_value("Buyer")
    assert not Contact.objects.exists()

    page.get_by_role("textbox", name="First name").fill("Nina")
    page.get_by_role("textbox", name="Last name").fill("New")
    page.get_by_role("textbox", name="Primary email").fill("nina@example.com")
    page.get_by_role("button", name="Save").click()

    expect(page.get_by_role("heading", name="Nina New", level=1)).to_be_visible()
    contact = Contact.objects.get()
    expect(page).to_have_url(re.compile(rf"/records/contacts/{contact.pk}/$"))
    properties = page.locator("#properties")
    expect(properties).to_contain_text("nina@example.com")
    expect(properties).to_contain_text("Buyer")
