"""A contact's record page: notes, the timeline, tasks, editing in place and associations."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from records import timeline as records_timeline
from records.constants import ActivityKind
from tests.factories import DealFactory

pytestmark = pytest.mark.browser


def open_contact(page, login, contact):
    """Sign in as the contact's owner and open the record from the list, as a person would."""
    login(page, contact.owner.username)
    page.get_by_role("link", name=contact.name).click()
    expect(page.get_by_role("heading", name=contact.name, level=1)).to_be_visible()


def timeline(page):
    return page.locator("#timeline-items > li.activity")


def note_box(page):
    # Found through its form, not its label: the task form's "Notes" label points here too.
    return page.locator("#note-form").get_by_role("textbox")


def test_added_note_appears_at_the_top_of_the_timeline_without_a_reload(page, login, contact):
    records_timeline.log(
        ActivityKind.NOTE,
        [contact],
        created_by=contact.owner,
        body="An older call",
        occurred_at=timezone.now() - timedelta(days=2),
    )
    open_contact(page, login, contact)
    expect(timeline(page)).to_have_count(1)
    page.evaluate("window.stillTheSamePage = true")

    note_box(page).fill("Discussed the renewal\nThey want 40 seats.")
    page.get_by_role("button", name="Save note").click()

    expect(timeline(page)).to_have_count(2)
    expect(timeline(page).first).to_contain_text("Discussed the renewal")
    expect(timeline(page).first).to_contain_text("They want 40 seats.")
    expect(timeline(page).nth(1)).to_contain_text("An older call")
    expect(note_box(page)).to_have_value("")  # a fresh form
    assert page.evaluate("window.stillTheSamePage") is True


def test_empty_note_is_refused_and_the_timeline_stays_unchanged(page, login, contact):
    records_timeline.log(ActivityKind.NOTE, [contact], created_by=contact.owner, body="Only note")
    open_contact(page, login, contact)
    note = note_box(page)

    # Nothing typed: the browser itself refuses to send the required field.
    page.get_by_role("button", name="Save note").click()
    assert note.evaluate("el => el.validity.valueMissing") is True

    # Only spaces: the server refuses and explains.
    note.fill("   ")
    page.get_by_role("button", name="Save note").click()

    expect(page.locator("#note-form").get_by_role("alert")).to_have_text("A note cannot be empty.")
    expect(timeline(page)).to_have_count(1)
    expect(timeline(page).first).to_contain_text("Only note")


def test_scrolling_to_the_end_of_the_timeline_loads_older_notes_once_each(page, login, contact):
    start = timezone.now() - timedelta(days=3)
    for n in range(45):
        records_timeline.log(
            ActivityKind.NOTE,
            [contact],
            created_by=contact.owner,
            body=f"Timeline note {n:02d}",
            occurred_at=start + timedelta(minutes=n),
        )
    open_contact(page, login, contact)
    expect(timeline(page)).to_have_count(20)
    expect(timeline(page).first).to_contain_text("Timeline note 44")
    oldest = page.get_by_text("Timeline note 00", exact=True)
    expect(oldest).to_have_count(0)

    # Scroll to the end like a reader; each time the "load older" row is revealed, 20 more come.
    page.mouse.move(900, 400)
    for loaded in (40, 45):
        page.mouse.wheel(0, 20_000)
        expect(timeline(page)).to_have_count(loaded)
    page.mouse.wheel(0, 20_000)
    expect(oldest).to_be_in_viewport()
    bodies = timeline(page).locator(".activity-body").all_inner_texts()
    assert bodies == [f"Timeline note {n:02d}" for n in reversed(range(45))]
    expect(page.locator(".timeline-more")).to_have_count(0)


def test_task_created_from_the_record_can_be_completed_and_reopened(page, login, contact):
    open_contact(page, login, contact)
    expect(page.get_by_text("No activity yet.")).to_be_visible()
    task_form = page.locator("#task-form")

    page.get_by_text("Create a task").click()
    task_form.get_by_role("textbox", name="Title", exact=True).fill("Send the proposal")
    task_form.get_by_role("combobox", name="Type", exact=True).select_option(label="Call")
    task_form.get_by_role("button", name="Create task").click()

    task = timeline(page).filter(has_text="Send the proposal")
    expect(task).to_have_count(1)
    expect(task).to_contain_text("Task · Call")
    expect(page.get_by_text("No activity yet.")).to_be_hidden()
    expect(task).to_have_class("activity activity-task")
    # A fresh form for the next task.
    expect(task_form.get_by_role("textbox", name="Title", exact=True)).to_have_value("")

    task.get_by_role("button", name="Complete task Send the proposal").click()

    expect(task).to_have_class("activity activity-task done")
    reopen = task.get_by_role("button", name="Reopen task Send the proposal")
    expect(reopen).to_have_attribute("aria-pressed", "true")

    reopen.click()

    expect(task).to_have_class("activity activity-task")
    complete = task.get_by_role("button", name="Complete task Send the proposal")
    expect(complete).to_have_attribute("aria-pressed", "false")


def test_clicking_a_task_form_label_puts_the_cursor_in_that_task_field(page, login, contact):
    open_contact(page, login, contact)
    task_form = page.locator("#task-form")
    page.get_by_text("Create a task").click()

    task_form.get_by_text("Notes", exact=True).click()
    page.keyboard.type("Bring the signed contract")

    expect(task_form.get_by_role("textbox", name="Notes", exact=True)).to_have_value(
        "Bring the signed contract"
    )
    expect(note_box(page)).to_have_value("")
    expect(note_box(page)).to_have_accessible_name("Note")


def test_editing_properties_in_place_explains_errors_then_saves(page, login, contact):
    open_contact(page, login, contact)
    record_url = page.url
    properties = page.locator("#properties")

    properties.get_by_role("link", name="Edit").click()

    other = properties.get_by_label("Other email addresses")
    expect(other).to_be_visible()
    other.fill("fine@example.com, not-an-address")
    properties.get_by_label("Job title").fill("Head of IT")
    properties.get_by_role("button", name="Save").click()

    expect(properties.get_by_role("alert")).to_have_text(
        "Not valid email addresses: not-an-address"
    )
    expect(properties.get_by_label("Other email addresses")).to_have_value(
        "fine@example.com, not-an-address"
    )
    expect(properties.get_by_label("Job title")).to_have_value("Head of IT")

    properties.get_by_label("Other email addresses").fill("fine@example.com")
    properties.get_by_role("button", name="Save").click()

    expect(properties.get_by_role("status")).to_have_text("Saved.")
    expect(properties).to_contain_text("Head of IT")
    expect(properties).to_contain_text("fine@example.com")
    expect(properties).not_to_contain_text("o.owned@home.example")
    expect(properties.get_by_role("link", name="Edit")).to_be_visible()
    assert page.url == record_url  # edited in place, no navigation


def test_renaming_a_contact_in_place_updates_the_page_heading(page, login, contact):
    open_contact(page, login, contact)
    properties = page.locator("#properties")
    properties.get_by_role("link", name="Edit").click()

    properties.get_by_role("textbox", name="Last name").fill("Married-Name")
    properties.get_by_role("button", name="Save").click()

    expect(properties.get_by_role("status")).to_have_text("Saved.")
    expect(properties).to_contain_text("Married-Name")
    expect(page.get_by_role("heading", level=1)).to_have_text("Olivia Married-Name")


def test_deal_associated_from_the_panel_shows_and_can_be_removed(page, login, contact):
    DealFactory(name="Renewal 2027", owner=contact.owner)
    DealFactory(name="Expansion 2026", owner=contact.owner)
    open_contact(page, login, contact)
    panel = page.locator("#associations")
    expect(panel).to_contain_text("No associated records yet.")

    panel.get_by_text("Add association").click()
    panel.get_by_label("Record type").select_option(label="Deals")
    panel.get_by_role("searchbox", name="Search records to associate").fill("renewal")
    candidates = panel.locator("#association-candidates li")
    expect(candidates).to_have_count(1)
    expect(candidates).to_contain_text("Renewal 2027")
    candidates.get_by_role("button", name="Associate").click()

    expect(panel.get_by_role("heading", name="Deals")).to_contain_text("(1)")
    expect(panel.get_by_role("link", name="Renewal 2027")).to_be_visible()
    expect(panel).not_to_contain_text("Expansion 2026")

    panel.get_by_role("button", name="Remove association with Renewal 2027").click()

    expect(panel.get_by_role("link", name="Renewal 2027")).to_have_count(0)
    expect(panel).to_contain_text("No associated records yet.")
