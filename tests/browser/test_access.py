"""What a View-only seat sees, and what it cannot reach by typing an address."""

import pytest
from playwright.sync_api import expect

from records.services import task_create
from tests.factories import ContactFactory

pytestmark = pytest.mark.browser


def test_view_only_user_sees_team_contact_without_note_form_or_edit(page, login, viewer, contact):
    task_create(contact.owner, contact, title="Send the proposal", task_type="todo")
    login(page, "viewer")
    expect(page.get_by_role("link", name="Create contact")).to_have_count(0)

    page.get_by_role("link", name="Olivia Owned").click()

    expect(page.get_by_role("heading", name="Olivia Owned", level=1)).to_be_visible()
    expect(page.locator("#properties")).to_contain_text("olivia@acme.example")
    expect(page.locator("#timeline-items")).to_contain_text("Send the proposal")
    expect(page.locator("#note-form")).to_have_count(0)
    expect(page.get_by_role("button", name="Save note")).to_have_count(0)
    expect(page.get_by_role("button", name="Complete task Send the proposal")).to_have_count(0)
    expect(page.locator("#properties").get_by_role("link", name="Edit")).to_have_count(0)
    expect(page.get_by_text("Create a task")).to_have_count(0)
    expect(page.get_by_text("Add association")).to_have_count(0)


def test_view_only_user_cannot_open_other_teams_contact(page, login, viewer, outsider):
    theirs = ContactFactory(first_name="Ruby", last_name="Red", owner=outsider)
    login(page, "viewer")
    expect(page.get_by_role("link", name="Ruby Red")).to_have_count(0)

    response = page.goto(f"/records/contacts/{theirs.pk}/")

    assert response.status == 404
    expect(page.get_by_role("heading", name="Not Found")).to_be_visible()
    expect(page.get_by_text("Ruby Red")).to_have_count(0)
