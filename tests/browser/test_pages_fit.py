"""Every list and settings page fits a 1280 px screen and a 390 px phone: nothing scrolls
sideways, neither the page nor a table inside its frame, with long names and addresses in
them. On a phone a list is a column of cards. Screenshots go to /tmp/pages-screens/."""

import re
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from mailboxes.models import FolderSync, TeamInbox
from privacy.constants import OptOutSource
from privacy.services import legal_basis_record, opt_out_of_all
from records.lists.models import ContactList
from records.lists.services import list_create, members_add
from records.models import CustomObjectType, Holiday, PropertyDefinition, Record
from records.services import record_save
from sequences.models import Sequence
from tests.browser.conftest import settings_menu
from tests.browser.fit import assert_fits, open_at
from tests.factories import CompanyFactory, ContactFactory, DealFactory, TicketFactory, UserFactory
from tests.mailboxes.inboxes import unreachable_mailbox

pytestmark = pytest.mark.browser
SCREENSHOTS = Path("/tmp/pages-screens")
LONG_ADDRESS = "christopher.vanderbilt-montgomery@international-shipping-logistics.example"
LIST_PAGES = ["contacts", "companies", "deals", "tickets", "projects"]
SETTINGS_PAGES = [
    "/settings/users/",
    "/settings/teams/",
    "/settings/objects/",
    "/settings/objects/projects/",
    "/settings/currency/",
    "/settings/calendar/",
    "/settings/privacy/",
    "/settings/privacy/audit/?kind=all",
    "/settings/connected-inboxes/",
    "/settings/inboxes/",
    "/settings/email/",
    "/settings/email/logging/",
    "/settings/email/sending/",
    "/settings/email/smtp-api/",
    "/settings/integrations/api-keys/",
    "/settings/transactional/",
    "/settings/transactional/pool/",
    "/settings/transactional/queue/",
    "/transactional/emails/",
    "/transactional/emails/new/",
    "/settings/transactional/webhooks/",
    "/sequences/",
    "/sequences/new/",
    "/lists/",
]


@pytest.fixture
def account(admin_user, owner):
    """An account with long values everywhere a table shows them."""
    for n in range(3):
        UserFactory(username=f"rep-with-a-rather-long-username-{n}", profile_name="Sales " * 5)
    people = [
        ContactFactory(
            first_name="Christopher",
            last_name="Vanderbilt-Montgomery",
            job_title="Head of Procurement",
            phone="+39 02 1234 5678",
            emails=[LONG_ADDRESS],
            owner=admin_user,
        ),
        ContactFactory(first_name="Ana", last_name="Lima", emails=["ana@lima.example"]),
    ]
    legal_basis_record(people[1], admin_user, "consent", "Asked for our catalogue " * 6)
    opt_out_of_all(people[0], source=OptOutSource.REP, actor=admin_user)
    CompanyFactory(
        name="International Shipping and Logistics Holdings",
        domain="international-shipping-logistics.example",
        industry="Freight forwarding and customs brokerage",
        city="Castellammare di Stabia",
        owner=admin_user,
    )
    DealFactory(name="Lumen Studios renewal", amount=Decimal("12500"), owner=admin_user)
    DealFactory(
        name="International Shipping — three-year framework agreement for all European lanes",
        amount=Decimal("1234567.89"),
        owner=admin_user,
    )
    TicketFactory(name="The invoice PDF shows the wrong VAT number " * 3, owner=admin_user)
    projects = CustomObjectType.objects.create(name="Project", plural="Projects", slug="projects")
    for n, label in enumerate(["Budget code", "Sponsor", "Phase", "Site", "Notes"]):
        PropertyDefinition.objects.create(
            object_type=projects, label=label, key=label.lower().replace(" ", "_"), position=n
        )
    record = Record(
        kind="custom", custom_type=projects, name="Warehouse move", owner=admin_user
    )  # fmt: skip
    record.properties = {"sponsor": "Operations and facilities management", "site": "Bay " * 20}
    record_save(record)
    box = unreachable_mailbox(admin_user, email=f"admin.{LONG_ADDRESS}")
    FolderSync.objects.create(
        mailbox=box,
        folder="[Gmail]/All Mail/Archive/2024/Customers/International",
        role="inbox",
        progress_done=12000,
        progress_total=34000,
        last_success_at=timezone.now(),
        last_error="The connection failed: timeout while reading from imap.example.com " * 2,
        seen=34000,
        logged=1200,
        skipped=32800,
        skip_reasons={"not from or to a contact": 30000, "automated mail": 2800},
    )
    TeamInbox.objects.create(name="Support for enterprise customers", kind="help_desk")
    Sequence.objects.create(name="International Shipping follow-up " * 5, owner=admin_user)
    fair = list_create(admin_user, "Trade fair: International Shipping and Logistics " * 2)
    members_add(admin_user, fair, [p.pk for p in people])
    Holiday.objects.create(
        date=date(2031, 8, 14), name="Ferragosto bridge: the warehouse and the office close " * 2
    )
    return admin_user


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_every_list_and_settings_page_fits_the_screen(new_page, login, account, size):
    page = open_at(new_page, size)
    login(page, account.username)
    for slug in LIST_PAGES:
        page.goto(f"/records/{slug}/")
        expect(page.locator("#results tbody tr").first).to_be_visible()
        assert_fits(page, SCREENSHOTS / size / f"list-{slug}.png")
    # A saved list's page: the contacts' table.
    page.goto(f"/lists/{ContactList.objects.get().pk}/")
    expect(page.locator("#results tbody tr").first).to_be_visible()
    assert_fits(page, SCREENSHOTS / size / "saved-list.png")
    for path in SETTINGS_PAGES:
        page.goto(path)
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        name = path.split("?")[0].strip("/").replace("/", "-")
        assert_fits(page, SCREENSHOTS / size / f"{name}.png")
        nav = settings_menu(page).or_(page.get_by_role("navigation", name="Email settings"))
        for link in nav.get_by_role("link").all():
            box = link.bounding_box()
            assert 0 <= box["x"] and box["x"] + box["width"] <= page.viewport_size["width"], (
                f"{path}: {link.text_content()} is off the screen"
            )


def test_on_a_phone_the_contacts_list_is_a_column_of_cards(new_page, login, account):
    page = open_at(new_page, "phone")
    login(page, account.username)
    page.goto("/records/contacts/")

    card = page.locator("#results tbody tr").filter(has_text="Christopher")
    expect(card.get_by_role("link", name="Christopher Vanderbilt-Montgomery")).to_be_visible()
    email = card.locator("td[data-label='Email']")
    expect(email).to_have_text(LONG_ADDRESS)
    # Each value is named by its column, in front of it.
    assert email.evaluate("td => getComputedStyle(td, '::before').content") == '"Email: "'
    expect(card.locator("td[data-label='Phone']")).to_have_text("+39 02 1234 5678")
    expect(card.locator("td[data-label='Last updated']")).to_be_hidden()
    box, frame = card.bounding_box(), page.locator("#results .table-wrap").bounding_box()
    assert box["x"] >= frame["x"] and box["x"] + box["width"] <= frame["x"] + frame["width"]
    # Sorting and selecting still work from the header.
    page.locator("#results thead").get_by_role("link", name="Email").tap()
    expect(page).to_have_url(re.compile(r"[?&]sort=email(&|$)"))
    card = page.locator("#results tbody tr").filter(has_text="Christopher")
    card.get_by_role("checkbox").tap()
    expect(page.locator("[data-selected-count]")).to_have_text("1 selected")
    assert_fits(page, SCREENSHOTS / "phone" / "list-contacts-sorted.png")


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_deal_amounts_read_in_the_currency_format_the_admin_chose(new_page, login, account, size):
    page = open_at(new_page, size)
    login(page, account.username)
    page.goto("/records/deals/")
    deal = page.locator("#results tbody tr").filter(has_text="Lumen Studios renewal")
    expect(deal).to_contain_text("€12,500.00")
    expect(page.locator("#results tbody")).to_contain_text("€1,234,567.89")

    page.goto("/settings/currency/")
    page.get_by_label("Currency").select_option("CHF")
    page.get_by_label("Number format").select_option("de_DE")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text("Deal amounts now read like 12.500,00\xa0CHF.")

    page.goto("/records/deals/")
    deal = page.locator("#results tbody tr").filter(has_text="Lumen Studios renewal")
    expect(deal).to_contain_text("12.500,00\xa0CHF")
    deal.get_by_role("link", name="Lumen Studios renewal").click()
    expect(page.locator("#properties")).to_contain_text("12.500,00\xa0CHF")
    assert_fits(page, SCREENSHOTS / size / "deal-page.png")


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_the_sequence_enrollment_pages_fit_the_screen(new_page, login, account, size):
    from sequences.enrollment.services import Plan, enroll
    from tests.sequences.enrollment_support import inbox_of, three_steps

    sequence = three_steps(account)
    sequence.name = "Trade fair follow-up for the international shipping prospects " * 2
    sequence.save()
    inbox = inbox_of(account, address=f"rep.{LONG_ADDRESS}")
    contacts = list(
        Record.objects.filter(kind="contact").values_list("pk", flat=True).order_by("pk")
    )
    enrolled = ContactFactory(first_name="Enrolled", last_name="Long " * 8, owner=account)
    enroll(account, sequence, [Plan(enrolled, "Asia/Tokyo")], inbox)
    page = open_at(new_page, size)
    login(page, account.username)
    ids = "&".join(f"contact={pk}" for pk in contacts)
    for name, path in (
        ("pick-contact", f"/sequences/{sequence.pk}/enroll/"),
        ("enroll-one", f"/sequences/{sequence.pk}/enroll/?contact={contacts[0]}"),
        ("enroll-bulk", f"/sequences/{sequence.pk}/enroll/bulk/?{ids}"),
        ("pick-sequence", f"/sequences/enroll/?{ids.replace('contact=', 'id=')}"),
        ("enrollments", f"/sequences/{sequence.pk}/enrollments/"),
        ("enrolled-contact", f"/records/contacts/{enrolled.pk}/"),
    ):
        page.goto(path)
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        assert_fits(page, SCREENSHOTS / size / f"sequence-{name}.png")


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_the_sequence_automation_tab_fits_the_screen(new_page, login, account, size):
    from sequences.automation.models import AutomationRule, Outcome, RuleFiring
    from tests.sequences.enrollment_support import three_steps

    sequence = three_steps(account)
    rule = AutomationRule.objects.create(
        sequence=sequence,
        owner=account,
        created_by=account,
        action="enroll",
        property="job_title",
        value="Head of international procurement and logistics " * 3,
    )
    contact = ContactFactory(first_name="Skipped", last_name="Long " * 8, owner=account)
    RuleFiring.objects.create(
        rule=rule,
        contact=contact,
        outcome=Outcome.SKIPPED,
        reason=f"{LONG_ADDRESS} hard-bounced. Already in the sequence “{'Long name ' * 6}”.",
    )
    page = open_at(new_page, size)
    login(page, account.username)
    page.goto(f"/sequences/{sequence.pk}/automation/")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    assert_fits(page, SCREENSHOTS / size / "sequence-automation.png")
