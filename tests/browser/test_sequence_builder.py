"""Automations > Sequences, clicked through by a rep at 1280 and 390 px: build a sequence with
an email from a template and a call task, be refused a bad delay with the typed text kept, fix
it, save, find it in the list, clone it and archive the clone. Screenshots under
/tmp/pages-screens/."""

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from mailboxes.models import EmailTemplate
from tests.browser.fit import SIZES, assert_fits, open_at

pytestmark = pytest.mark.browser
SCREENSHOTS = Path("/tmp/pages-screens")
NAME = "Milan trade fair follow-up for the logistics and warehousing contacts"


def swapped(page):
    """Wait for an edit button's htmx swap to finish, so the new form's buttons are live."""
    expect(page.locator(".htmx-request, .htmx-swapping, .htmx-settling")).to_have_count(0)


def step(page, number):
    return page.locator(".seq-step").nth(number - 1)


@pytest.mark.parametrize("size", SIZES)
def test_a_rep_builds_clones_and_archives_a_sequence(new_page, login, owner, size):
    EmailTemplate.objects.create(
        owner=owner,
        name="Fair intro",
        subject="Good to meet you, {{ contact.first_name }}",
        body="<p>Thanks for stopping by our stand.</p>",
    )
    page = open_at(new_page, size)
    login(page, owner.username)
    if size == "phone":
        page.locator(".nav-toggle-label").tap()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Automations").click()
    expect(page.get_by_role("heading", name="Sequences", level=1)).to_be_visible()
    page.get_by_role("link", name="Create sequence").click()

    page.get_by_role("textbox", name="Name", exact=True).fill(NAME)
    page.get_by_label("Send window from").fill("09:00")
    page.get_by_label("Send window until").fill("17:30")
    # The edit buttons swap the form in place (htmx): the page is not loaded again.
    page.evaluate("window.stillHere = true")
    adding = page.get_by_role("group", name="Add a step")
    adding.get_by_role("button", name="Automated email").click()
    first = step(page, 1)
    # The editor shows once htmx has processed the new step (htmx:load): its select is live.
    expect(first.locator(".editor")).to_be_visible()
    assert page.evaluate("window.stillHere === true")
    # Choosing a template copies it into the step ("Use template" does the same without script).
    first.get_by_label("Template").select_option(label="Fair intro")
    swapped(page)
    expect(step(page, 1).get_by_label("Subject")).to_have_value(
        "Good to meet you, {{ contact.first_name }}"
    )
    expect(step(page, 1).locator(".editor")).to_contain_text("Thanks for stopping by our stand.")
    expect(page.get_by_role("textbox", name="Name", exact=True)).to_have_value(NAME)

    adding.get_by_role("button", name="Call task").click()
    swapped(page)
    call = step(page, 2)
    call.get_by_label("Task title").fill("Call about the fair")
    call.get_by_label("Continue without completing the task").check()
    call.get_by_label("Wait (days after the previous step)").fill("-1")
    # A step added by mistake, moved up and removed: the typed steps stay as they were.
    adding.get_by_role("button", name="Task", exact=True).click()
    swapped(page)
    page.get_by_role("button", name="Move step 3 up").click()
    swapped(page)
    expect(step(page, 2)).to_contain_text("Step 2: Task")
    page.get_by_role("button", name="Remove step 2").click()
    expect(page.locator(".seq-step")).to_have_count(2)
    expect(step(page, 2).get_by_label("Task title")).to_have_value("Call about the fair")
    assert page.evaluate("window.stillHere === true")
    page.get_by_role("button", name="Save sequence").click()

    expect(page.locator("#sequence-form > .message")).to_have_text(re.compile("Nothing was saved"))
    call = step(page, 2)
    expect(call.get_by_role("alert")).to_have_text("Wait between 0 and 365 days.")
    expect(call.get_by_label("Task title")).to_have_value("Call about the fair")
    expect(call.get_by_label("Continue without completing the task")).to_be_checked()
    expect(page.get_by_label("Send window until")).to_have_value("17:30")
    assert_fits(page, SCREENSHOTS / size / "sequence-builder-refused.png")
    call.get_by_label("Wait (days after the previous step)").fill("2")
    page.get_by_role("button", name="Save sequence").click()

    expect(page.get_by_role("heading", name=NAME, level=1)).to_be_visible()
    expect(page.get_by_text("Sequence saved.")).to_be_visible()
    expect(page.locator(".seq-summary")).to_contain_text("Call about the fair")
    expect(page.locator(".seq-summary")).to_contain_text("2 days after the previous step")
    enroll = page.get_by_role("link", name="Enroll contacts")
    expect(enroll).to_have_attribute("href", re.compile(r"^/sequences/\d+/enroll/$"))
    assert_fits(page, SCREENSHOTS / size / "sequence-detail.png")

    page.get_by_role("link", name="← Sequences").click()
    row = page.locator("table.sequences tbody tr").filter(has_text=NAME)
    expect(row).to_have_count(1)
    expect(row.locator("td[data-label='Steps']")).to_have_text("2")
    assert_fits(page, SCREENSHOTS / size / "sequences-list.png")
    row.get_by_role("link", name=NAME).click()
    page.get_by_role("button", name="Clone").click()
    expect(page.get_by_role("heading", name=f"Copy of {NAME}", level=1)).to_be_visible()
    page.get_by_role("button", name="Archive").click()
    expect(page.get_by_text("Archived: nobody new can be enrolled")).to_be_visible()
    expect(page.get_by_role("link", name="Enroll contacts")).to_have_count(0)
    expect(page.get_by_role("button", name="Restore")).to_be_visible()

    page.get_by_role("link", name="← Sequences").click()
    expect(page.get_by_role("heading", name="Archived sequences", level=1)).to_be_visible()
    expect(page.locator("table.sequences tbody")).to_contain_text(f"Copy of {NAME}")
    page.get_by_role("link", name="In use").click()
    body = page.locator("table.sequences tbody")
    expect(body).to_contain_text(NAME)
    expect(body).not_to_contain_text("Copy of")
