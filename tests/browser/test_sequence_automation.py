"""A sequence's Automation tab as its owner uses it: add "enroll when Lifecycle stage becomes
Lead", edit two contacts' stage on their pages, and read the log: one enrolled (its card on
the timeline), one unsubscribed and skipped with the reason. Screenshots at 1280 and 390 px
go to /tmp/automation-screens/."""

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
SCREENSHOTS = Path("/tmp/automation-screens")


def set_stage(page, contact, stage):
    """Edit the contact's lifecycle stage in place on its page, as a rep does."""
    page.goto(f"/records/contacts/{contact.pk}/")
    properties = page.locator("#properties")
    properties.get_by_role("link", name="Edit").click()
    properties.get_by_label("Lifecycle stage").select_option(label=stage)
    properties.get_by_role("button", name="Save").click()
    expect(properties.get_by_role("status")).to_have_text("Saved.")


def test_owner_adds_a_rule_and_the_log_shows_what_it_did(page, login, owner):
    inbox_of(owner)
    sequence = three_steps(owner)
    olivia = ContactFactory(
        owner=owner, first_name="Olivia", last_name="Owned", lifecycle_stage="subscriber"
    )
    cat = ContactFactory(owner=owner, first_name="Cat", last_name="Cole", lifecycle_stage="other")
    ContactOptOut.objects.create(contact=cat, source=OptOutSource.ONE_CLICK)
    login(page, owner.username)
    page.goto(f"/sequences/{sequence.pk}/")
    page.get_by_role("link", name="Automation", exact=True).click()
    expect(page.get_by_role("heading", name="Automation of “Trade fair follow-up”")).to_be_visible()
    expect(page.get_by_text("No rules yet.")).to_be_visible()
    expect(page.get_by_text("not available yet")).to_have_count(0)
    form = page.locator("#rule-form")
    form.get_by_label("Action").select_option(label="Enroll")
    form.get_by_label("When the contact's property").select_option(label="Lifecycle stage")
    # The value becomes a dropdown of the stages (the form redrawn by htmx).
    value = page.locator("#rule-form").get_by_role("combobox", name="Becomes")
    expect(value).to_be_visible()
    value.select_option(label="Lead")
    assert_fits_both(page, SCREENSHOTS / "add-rule")
    page.locator("#rule-form").get_by_role("button", name="Add rule").click()
    expect(page.get_by_text("Rule added: it runs on the next change.")).to_be_visible()
    rule = page.locator(".automation-rule")
    expect(rule).to_contain_text("Enroll when Lifecycle stage becomes Lead")
    expect(rule).to_contain_text("On")

    set_stage(page, olivia, "Lead")
    page.reload()
    card = page.locator(".activity-sequence")
    expect(card).to_contain_text("Trade fair follow-up")
    expect(card).to_contain_text("automation rule “Enroll when Lifecycle stage becomes Lead”")
    expect(card.get_by_role("button", name="Pause")).to_be_visible()
    assert_fits_both(page, SCREENSHOTS / "enrolled-contact")
    set_stage(page, cat, "Lead")

    page.goto(f"/sequences/{sequence.pk}/automation/")
    log = page.locator(".automation-log")
    enrolled = log.locator("tr", has_text="Olivia Owned")
    expect(enrolled).to_contain_text("Enrolled")
    skipped = log.locator("tr", has_text="Cat Cole")
    expect(skipped).to_contain_text("Skipped")
    expect(skipped).to_contain_text("opted out of all email")
    assert Enrollment.objects.filter(contact=olivia, sequence=sequence).exists()
    assert not Enrollment.objects.filter(contact=cat).exists()
    assert_fits_both(page, SCREENSHOTS / "log")

    rule.get_by_role("button", name="Turn off").click()
    expect(page.get_by_text("Rule turned off.")).to_be_visible()
    expect(page.locator(".automation-rule")).to_contain_text("Off")
