"""Logging a meeting from a company's page, as a rep does after a call: its two contacts
attend; the meeting shows on the company's and each contact's timeline, and the enrollment of
the contact whose sequence says "unenroll when a meeting is booked" ends (the other goes on).
Screenshots at 1280 and 390 px go to /tmp/meeting-screens/."""

from pathlib import Path

import pytest
from playwright.sync_api import expect

from records.services import association_create
from sequences.constants import EndReason, EnrollmentStatus
from tests.browser.fit import assert_fits_both
from tests.factories import CompanyFactory, ContactFactory
from tests.sequences.enrollment_support import inbox_of
from tests.sequences.stopping_setup import enroll

pytestmark = pytest.mark.browser
SCREENSHOTS = Path("/tmp/meeting-screens")


def test_a_meeting_logged_on_a_company_reaches_its_contacts_and_their_sequences(page, login, owner):
    company = CompanyFactory(name="Acme Srl", owner=owner)
    ada = ContactFactory(first_name="Ada", last_name="Lovelace", owner=owner)
    bob = ContactFactory(first_name="Bob", last_name="Stone", owner=owner)
    for contact in (ada, bob):
        association_create(company, contact)
    inbox = inbox_of(owner)
    ends = enroll(owner, inbox, ada, unenroll_on_meeting=True)
    goes_on = enroll(owner, inbox, bob, unenroll_on_meeting=False)

    login(page, owner.username)
    page.goto(f"/records/companies/{company.pk}/")
    page.get_by_role("link", name="Meeting", exact=True).click()
    form = page.locator("#meeting-form")
    expect(form).to_be_visible()
    # Both associated contacts attend unless unticked.
    expect(form.get_by_role("checkbox", name=ada.name)).to_be_checked()
    expect(form.get_by_role("checkbox", name=bob.name)).to_be_checked()

    # A blank title (the browser lets spaces through) is refused by the server, which
    # keeps what was chosen.
    form.get_by_role("checkbox", name=bob.name).uncheck()
    form.get_by_role("textbox", name="Title").fill("   ")
    form.get_by_label("Starts").fill("2027-01-14T10:30")
    form.get_by_role("button", name="Log meeting").click()
    expect(form.get_by_text("This field is required.")).to_be_visible()
    expect(form.get_by_role("checkbox", name=bob.name)).not_to_be_checked()
    expect(form.get_by_label("Starts")).to_have_value("2027-01-14T10:30")
    assert_fits_both(page, SCREENSHOTS / "meeting-form-errors")

    form.get_by_role("checkbox", name=bob.name).check()
    form.get_by_role("textbox", name="Title").fill("Pricing review")
    form.get_by_role("combobox", name="Duration").select_option(label="45 minutes")
    form.get_by_role("combobox", name="Outcome").select_option(label="Scheduled")
    form.get_by_role("textbox", name="Notes").fill("Bring the new price list.")
    form.get_by_role("button", name="Log meeting").click()

    meeting = page.locator("#timeline-items > li.activity-meeting")
    expect(meeting).to_have_count(1)
    expect(meeting).to_contain_text("Meeting · Scheduled")
    expect(meeting).to_contain_text("Pricing review")
    expect(meeting).to_contain_text("45 minutes")
    expect(meeting).to_contain_text(f"with {ada.name}, {bob.name}")
    # A fresh form for the next meeting.
    expect(form.get_by_role("textbox", name="Title")).to_have_value("")
    assert_fits_both(page, SCREENSHOTS / "meeting-on-company")

    page.goto(f"/records/contacts/{ada.pk}/")
    expect(page.locator("#timeline-items > li.activity-meeting")).to_contain_text("Pricing review")
    # A contact's own meeting needs no attendee list: the contact attends.
    page.get_by_role("link", name="Meeting", exact=True).click()
    expect(page.locator("#meeting-form").get_by_role("checkbox")).to_have_count(0)
    assert_fits_both(page, SCREENSHOTS / "meeting-on-contact")

    ends.refresh_from_db()
    goes_on.refresh_from_db()
    assert ends.end_reason == EndReason.MEETING
    assert goes_on.status in EnrollmentStatus.live()
