"""Enrolling contacts in a sequence as a rep would: one contact from its record page, and
three from the contacts index in bulk with a missing token and a blocked contact. Screenshots
at 1280 and 390 px go to /tmp/enrollment-screens/."""

from pathlib import Path

import pytest
from playwright.sync_api import expect

from privacy.constants import OptOutSource
from privacy.models import ContactOptOut
from sequences.models import Enrollment
from tests.browser.fit import assert_fits_both
from tests.factories import ContactFactory
from tests.sequences.enrollment_support import inbox_of, three_steps

pytestmark = pytest.mark.browser
SCREENSHOTS = Path("/tmp/enrollment-screens")


def test_rep_enrolls_one_contact_from_its_record_page(page, login, owner, contact):
    inbox_of(owner)
    three_steps(owner)
    login(page, owner.username)
    page.goto(f"/records/contacts/{contact.pk}/")
    page.get_by_role("group", name="Actions").get_by_role("link", name="Enroll in sequence").click()
    page.get_by_role("link", name="Select Trade fair follow-up").click()
    expect(
        page.get_by_role("heading", name="Enroll Olivia Owned in “Trade fair follow-up”")
    ).to_be_visible()
    forecast = page.locator(".forecast")
    expect(forecast).to_contain_text("Step 1:")
    expect(forecast).to_contain_text("Step 2: task due")
    expect(forecast).to_contain_text("the sequence waits for it")
    editor = page.get_by_role("textbox", name="Step 1 body")
    editor.click()
    editor.press("Control+End")
    editor.press_sequentially(" See you soon.")
    page.get_by_label("Step 2: Call task, task title").fill("Call Olivia about the fair")
    assert_fits_both(page, SCREENSHOTS / "single")
    page.get_by_role("button", name="Start sequence").click()
    expect(page.get_by_text("Olivia Owned is enrolled in “Trade fair follow-up”.")).to_be_visible()
    card = page.locator(".activity-sequence")
    expect(card).to_contain_text("Trade fair follow-up")
    expect(card).to_contain_text("Next: Step 1: Automated email")
    expect(card.get_by_role("button", name="Pause")).to_be_visible()
    enrollment = Enrollment.objects.get(contact=contact)
    assert "See you soon." in enrollment.overrides["0"]["body"]
    assert enrollment.overrides["1"] == {"task_title": "Call Olivia about the fair"}
    assert_fits_both(page, SCREENSHOTS / "timeline-card")
    card.get_by_role("button", name="Pause").click()
    expect(card.get_by_role("button", name="Resume now")).to_be_visible()
    expect(card).to_contain_text("Paused")


def test_rep_enrolls_three_contacts_from_the_index_in_bulk(page, login, owner):
    inbox_of(owner)
    three_steps(owner)
    ann = ContactFactory(
        owner=owner, first_name="Ann", last_name="Archer", emails=["ann@a.example"]
    )
    blank = ContactFactory(owner=owner, first_name="", last_name="Blank", emails=["b@b.example"])
    cat = ContactFactory(owner=owner, first_name="Cat", last_name="Cole", emails=["cat@c.example"])
    ContactOptOut.objects.create(contact=cat, source=OptOutSource.ONE_CLICK)
    login(page, owner.username)
    page.goto("/records/contacts/")
    for contact in (ann, blank, cat):
        page.get_by_label(f"Select {contact.name}").check()
    page.get_by_role("button", name="Enroll in sequence").click()
    expect(page.get_by_text("3 contacts selected")).to_be_visible()
    page.get_by_role("link", name="Select Trade fair follow-up").click()

    # The missing token in red in the All contacts panel, the blocked contact with its fix.
    shared = page.locator("#all-contacts")
    expect(shared.locator(".token-missing")).to_have_text("{{ contact.first_name }}")
    cat_panel = page.locator(f"#c{cat.pk}")
    expect(cat_panel.locator(".blocker")).to_contain_text("opted out")
    expect(cat_panel.locator(".blocker")).to_contain_text("Fix:")
    # The search over the selected contacts.
    search = page.get_by_role("searchbox", name="Search the selected contacts")
    search.fill("ann")
    expect(page.locator(".enroll-contact-list").get_by_role("link", name="Cat Cole")).to_be_hidden()
    search.fill("")
    assert_fits_both(page, SCREENSHOTS / "bulk")

    shared.get_by_label("Value for Contact first name, every contact").fill("there")
    shared.get_by_role("button", name="Update all").click()
    expect(page.locator("#all-contacts .token-missing")).to_have_count(0)
    page.locator(f"#c{cat.pk}").get_by_role("button", name="Remove contact Cat Cole").click()
    expect(page.locator(f"#c{cat.pk}")).to_have_count(0)
    page.get_by_role("button", name="Enroll all 2 contacts").click()
    dialog = page.get_by_role("alertdialog")
    expect(dialog).to_contain_text("Enroll 2 contacts in “Trade fair follow-up”?")
    assert_fits_both(page, SCREENSHOTS / "bulk-confirm")
    dialog.get_by_role("button", name="Enroll 2 contacts").click()
    expect(page.get_by_text("2 contacts enrolled in “Trade fair follow-up”.")).to_be_visible()
    assert_fits_both(page, SCREENSHOTS / "enrollments")
    assert set(Enrollment.objects.values_list("contact_id", flat=True)) == {ann.pk, blank.pk}
    assert Enrollment.objects.get(contact=blank).overrides["0"]["subject"] == "Hello there"
