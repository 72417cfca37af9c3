"""Saved contact lists as a rep uses them: create one under Contacts > Lists, add contacts
from the contacts index, read and prune the list's page, rename and delete it; enroll a
list's contacts in a sequence from its page and from the sequence's "From a saved list"; and
an "added to list" rule on the Automation tab that enrolls one contact and skips another with
the reason. Screenshots at 1280 and 390 px go to /tmp/lists-screens/."""

from pathlib import Path

import pytest
from playwright.sync_api import expect

from privacy.constants import OptOutSource
from privacy.models import ContactOptOut
from records.lists import services as lists
from records.lists.models import ContactList
from sequences.models import Enrollment
from tests.browser.fit import assert_fits_both
from tests.factories import ContactFactory
from tests.sequences.enrollment_support import inbox_of, three_steps

pytestmark = pytest.mark.browser
SCREENSHOTS = Path("/tmp/lists-screens")


@pytest.fixture
def people(owner, outsider):
    return {
        "ann": ContactFactory(owner=owner, first_name="Ann", last_name="Archer"),
        "bob": ContactFactory(owner=owner, first_name="Bob", last_name="Brown"),
        "cat": ContactFactory(owner=owner, first_name="Cat", last_name="Cole"),
        "rita": ContactFactory(owner=outsider, first_name="Rita", last_name="Red"),
    }


def test_rep_creates_a_list_fills_it_from_the_index_and_keeps_it(page, login, owner, people):
    login(page, owner.username)
    page.goto("/records/contacts/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Lists").click()
    expect(page.get_by_role("heading", name="Lists", level=1)).to_be_visible()
    expect(page.get_by_text("No list yet.")).to_be_visible()
    page.get_by_label("List name").fill("Trade fair 2026")
    page.get_by_role("button", name="Create list").click()
    expect(page.get_by_text("List “Trade fair 2026” created.")).to_be_visible()
    expect(page.get_by_role("heading", name="Trade fair 2026")).to_be_visible()

    # A second list with the same name in other letters: refused on the page, input kept.
    page.goto("/lists/")
    page.get_by_label("List name").fill("trade FAIR 2026")
    page.get_by_role("button", name="Create list").click()
    expect(page.get_by_role("alert")).to_contain_text("A list named “trade FAIR 2026” already")
    expect(page.get_by_label("List name")).to_have_value("trade FAIR 2026")
    assert_fits_both(page, SCREENSHOTS / "index-error")

    page.goto("/records/contacts/")
    for name in ("ann", "bob", "cat"):
        page.get_by_label(f"Select {people[name].name}").check()
    page.get_by_role("button", name="Add to list").click()
    expect(page.get_by_text("3 contacts selected")).to_be_visible()
    page.get_by_label("An existing list").select_option(label="Trade fair 2026")
    assert_fits_both(page, SCREENSHOTS / "add-to-list")
    page.get_by_role("button", name="Add to list").click()
    expect(page.get_by_text("3 contacts added to “Trade fair 2026”.")).to_be_visible()
    rows = page.locator("#results tbody tr")
    expect(rows).to_have_count(3)
    assert_fits_both(page, SCREENSHOTS / "list-page")

    # Remove one from the list, asked first.
    page.get_by_label("Select Cat Cole").check()
    page.get_by_role("button", name="Remove from list").click()
    expect(page.get_by_text("Remove 1 contact from “Trade fair 2026”?")).to_be_visible()
    assert_fits_both(page, SCREENSHOTS / "remove")
    page.get_by_role("button", name="Remove from list").click()
    expect(page.get_by_text("1 contact removed from “Trade fair 2026”.")).to_be_visible()
    expect(rows).to_have_count(2)

    page.get_by_role("link", name="Rename").click()
    page.get_by_label("List name").fill("Met at the fair")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", name="Met at the fair")).to_be_visible()
    page.get_by_role("link", name="← Lists").click()
    row = page.locator(".contact-lists tbody tr", has_text="Met at the fair")
    expect(row.locator("td[data-label='Members']")).to_have_text("2")
    assert_fits_both(page, SCREENSHOTS / "index")

    row.get_by_role("link", name="Met at the fair").click()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete list").click()
    expect(page.get_by_text("List “Met at the fair” deleted")).to_be_visible()
    assert not ContactList.objects.exists()


def test_a_list_page_hides_the_members_one_may_not_see(page, login, owner, admin_user, people):
    fair = lists.list_create(admin_user, "Everyone at the fair")
    lists.members_add(admin_user, fair, [p.pk for p in people.values()])
    login(page, owner.username)
    page.goto(f"/lists/{fair.pk}/")
    expect(page.locator("#results tbody tr")).to_have_count(3)
    expect(page.get_by_text("1 member you cannot access is hidden.")).to_be_visible()
    expect(page.get_by_text("Rita Red")).to_have_count(0)
    expect(page.get_by_role("button", name="Delete list")).to_have_count(0)
    assert_fits_both(page, SCREENSHOTS / "list-page-hidden")


def test_rep_enrolls_a_list_from_its_page_and_from_the_sequence(page, login, owner, people):
    inbox_of(owner)
    sequence = three_steps(owner)
    fair = lists.list_create(owner, "Trade fair 2026")
    lists.members_add(owner, fair, [people["ann"].pk, people["bob"].pk])
    login(page, owner.username)
    page.goto(f"/lists/{fair.pk}/")
    page.get_by_label("Select all on this page").check()
    page.get_by_role("button", name="Enroll in sequence").click()
    expect(page.get_by_text("2 contacts selected")).to_be_visible()
    page.get_by_role("link", name="Select Trade fair follow-up").click()
    page.get_by_role("button", name="Enroll all 2 contacts").click()
    page.get_by_role("alertdialog").get_by_role("button", name="Enroll 2 contacts").click()
    expect(page.get_by_text("2 contacts enrolled in “Trade fair follow-up”.")).to_be_visible()
    assert Enrollment.objects.filter(sequence=sequence).count() == 2

    # The third contact, through "From a saved list" on another sequence's picker.
    other = three_steps(owner)
    type(other).objects.filter(pk=other.pk).update(name="Webinar follow-up")
    webinar = lists.list_create(owner, "Webinar")
    lists.members_add(owner, webinar, [people["cat"].pk])
    page.goto(f"/sequences/{other.pk}/enroll/")
    picker = page.locator(".enroll-from-list")
    picker.get_by_label("List").select_option(label="Webinar (1 contact)")
    assert_fits_both(page, SCREENSHOTS / "from-a-saved-list")
    picker.get_by_role("button", name="Enroll the list's contacts").click()
    page.get_by_role("button", name="Enroll 1 contact").click()
    page.get_by_role("alertdialog").get_by_role("button", name="Enroll 1 contact").click()
    expect(page.get_by_text("1 contact enrolled in “Webinar follow-up”.")).to_be_visible()
    assert Enrollment.objects.get(sequence=other).contact == people["cat"]


def test_an_added_to_list_rule_enrolls_and_logs_a_skip(page, login, owner, people):
    inbox_of(owner)
    sequence = three_steps(owner)
    lists.list_create(owner, "Trade fair 2026")
    ContactOptOut.objects.create(contact=people["cat"], source=OptOutSource.ONE_CLICK)
    login(page, owner.username)
    page.goto(f"/sequences/{sequence.pk}/automation/")
    expect(page.get_by_text("not available yet")).to_have_count(0)
    form = page.locator("#rule-form")
    form.get_by_label("A contact is added to a list").check()
    # The form redrawn with the list to choose (htmx).
    chooser = page.locator("#rule-form").get_by_label("The list")
    expect(chooser).to_be_visible()
    chooser.select_option(label="Trade fair 2026")
    assert_fits_both(page, SCREENSHOTS / "list-rule")
    page.locator("#rule-form").get_by_role("button", name="Add rule").click()
    expect(page.get_by_text("Rule added: it runs on the next change.")).to_be_visible()
    expect(page.locator(".automation-rule")).to_contain_text(
        "Enroll when added to the list “Trade fair 2026”"
    )

    page.goto("/records/contacts/")
    page.get_by_label("Select Ann Archer").check()
    page.get_by_label("Select Cat Cole").check()
    page.get_by_role("button", name="Add to list").click()
    page.get_by_label("An existing list").select_option(label="Trade fair 2026")
    page.get_by_role("button", name="Add to list").click()
    expect(page.get_by_text("2 contacts added to “Trade fair 2026”.")).to_be_visible()

    page.goto(f"/sequences/{sequence.pk}/automation/")
    log = page.locator(".automation-log")
    expect(log.locator("tr", has_text="Ann Archer")).to_contain_text("Enrolled")
    skipped = log.locator("tr", has_text="Cat Cole")
    expect(skipped).to_contain_text("Skipped")
    expect(skipped).to_contain_text("opted out of all email")
    assert_fits_both(page, SCREENSHOTS / "list-rule-log")
    assert Enrollment.objects.get(sequence=sequence).contact == people["ann"]
