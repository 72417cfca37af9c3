"""Forms say what is wrong and keep what was typed; notices are styled, announced and
dismissible; a request the server refuses says so instead of doing nothing. At 1280 and 390 px,
screenshots under /tmp/pages-screens/."""

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from mailboxes.models import DomainServerSettings, Mailbox
from records.constants import Seat
from tests.browser.fit import SIZES, assert_fits, open_at
from tests.factories import ContactFactory
from tests.mailboxes.inboxes import unreachable_mailbox

pytestmark = pytest.mark.browser
SCREENSHOTS = Path("/tmp/pages-screens")
# The colours of app.css's notices: a success is green, an error red.
SUCCESS_BACKGROUND = "rgb(227, 245, 234)"
ERROR_BACKGROUND = "rgb(253, 236, 234)"


def background(locator) -> str:
    return locator.evaluate("e => getComputedStyle(e).backgroundColor")


@pytest.mark.parametrize("size", SIZES)
def test_an_empty_server_in_closed_advanced_options_opens_them_and_says_so(
    new_page, login, owner, size
):
    # Detection finds both servers, so the form starts with its advanced options closed.
    DomainServerSettings.objects.create(
        domain="example.test",
        imap_host="imap.example.test",
        smtp_host="smtp.example.test",
    )
    page = open_at(new_page, size)
    login(page, "owner")
    page.goto("/settings/email/connect/imap/?email=ana@example.test")
    advanced = page.locator("details", has=page.get_by_text("Advanced options"))
    expect(advanced).not_to_have_attribute("open", "")
    page.get_by_label(re.compile(r"^Password")).fill("app password")
    # The person opens the options, clears the SMTP server by mistake and closes them again.
    page.get_by_text("Advanced options").click()
    page.get_by_role("textbox", name="SMTP server", exact=True).fill("")
    page.get_by_text("Advanced options").click()
    expect(page.get_by_role("textbox", name="SMTP server", exact=True)).to_be_hidden()

    page.get_by_role("button", name="Connect your inbox").click()

    expect(page.get_by_role("textbox", name="SMTP server", exact=True)).to_be_visible()
    smtp = page.locator(".field", has=page.get_by_role("textbox", name="SMTP server", exact=True))
    expect(smtp.get_by_role("alert")).to_have_text(re.compile(r"fill (out|in) this field", re.I))
    expect(page).to_have_url(re.compile(r"/connect/imap/\?email="))  # nothing was sent
    assert_fits(page, SCREENSHOTS / size / "connect-imap-missing-server.png")
    assert not Mailbox.objects.exists()

    # Typing the server clears the message.
    page.get_by_role("textbox", name="SMTP server", exact=True).fill("smtp.example.test")
    expect(smtp.get_by_role("alert")).to_have_count(0)


def test_advanced_options_start_open_when_a_server_was_not_found(page, login, owner):
    login(page, "owner")
    page.goto("/settings/email/connect/imap/")

    expect(page.get_by_role("textbox", name="IMAP server", exact=True)).to_be_visible()
    expect(page.get_by_role("textbox", name="SMTP server", exact=True)).to_be_visible()


@pytest.mark.parametrize("size", SIZES)
def test_a_refused_new_contact_keeps_what_was_typed(new_page, login, owner, size):
    ContactFactory(first_name="Olivia", last_name="First", owner=owner, emails=["o@acme.example"])
    page = open_at(new_page, size)
    login(page, "owner")
    page.get_by_role("link", name="Create contact").click()
    page.get_by_label("First name").fill("Oliver")
    page.get_by_label("Last name").fill("Second")
    page.get_by_label("Primary email").fill("o@acme.example")
    page.get_by_label("Job title").fill("Buyer")
    page.get_by_label("Lifecycle stage").select_option(label="Customer")
    page.get_by_role("button", name="Save").click()

    expect(page.get_by_role("alert")).to_contain_text("This address is already used by")
    expect(page.get_by_label("First name")).to_have_value("Oliver")
    expect(page.get_by_label("Last name")).to_have_value("Second")
    expect(page.get_by_label("Primary email")).to_have_value("o@acme.example")
    expect(page.get_by_label("Job title")).to_have_value("Buyer")
    expect(page.get_by_label("Lifecycle stage")).to_have_value("customer")
    assert_fits(page, SCREENSHOTS / size / "contact-refused.png")


@pytest.mark.parametrize("size", SIZES)
def test_a_notice_is_a_styled_status_that_can_be_dismissed(new_page, login, admin_user, size):
    page = open_at(new_page, size)
    login(page, admin_user.username)
    page.goto("/settings/teams/")
    page.get_by_label("Name").fill("Enterprise accounts")
    page.get_by_role("button", name="Create team").click()

    status = page.get_by_role("status")
    expect(status).to_have_text("Team Enterprise accounts created.")
    notice = page.locator(".message", has=status)
    assert background(notice) == SUCCESS_BACKGROUND
    assert_fits(page, SCREENSHOTS / size / "notice.png")

    notice.get_by_role("button", name="Dismiss").click()
    expect(status).to_have_count(0)


@pytest.mark.parametrize("size", SIZES)
def test_your_email_is_on_its_way_is_a_styled_notice(new_page, login, contact, size):
    unreachable_mailbox(contact.owner)
    page = open_at(new_page, size)
    login(page, contact.owner.username)
    page.goto(f"/records/contacts/{contact.pk}/")
    notice = page.locator(".notice-slot")
    expect(notice).to_be_hidden()  # nothing to say yet
    page.get_by_role("group", name="Actions").get_by_role("link", name="Email").click()
    page.locator("#composer").get_by_label("Subject").fill("Your quote")
    body = page.locator("#composer").get_by_role("textbox", name="Message body")
    body.click()
    body.press_sequentially("Here it is.")  # an empty body is refused
    page.locator("#composer").get_by_role("button", name="Send").click()

    # Sending runs the privacy check and queues the email: slower than a page on a busy host.
    expect(notice).to_be_visible(timeout=15_000)
    expect(notice.locator("#composer-notice")).to_have_text("Your email is on its way.")
    assert background(notice) == SUCCESS_BACKGROUND
    assert_fits(page, SCREENSHOTS / size / "email-on-its-way.png")

    notice.get_by_role("button", name="Dismiss").click()
    expect(notice).to_be_hidden()


@pytest.mark.parametrize("size", SIZES)
def test_a_save_the_server_refuses_says_so_and_keeps_the_form(
    new_page, login, contact, owner, size
):
    page = open_at(new_page, size)
    login(page, "owner")
    page.goto(f"/records/contacts/{contact.pk}/")
    properties = page.locator("#properties")
    properties.get_by_role("link", name="Edit").click()
    properties.get_by_label("Job title").fill("Head of IT")
    # Meanwhile an admin makes the owner a View-only seat: the save is refused (403).
    owner.seat = Seat.VIEW_ONLY
    owner.save()

    properties.get_by_role("button", name="Save").click()

    alert = page.get_by_role("alert")
    expect(alert).to_have_text("You don't have permission to do that.")
    assert background(page.locator(".message", has=alert)) == ERROR_BACKGROUND
    expect(properties.get_by_label("Job title")).to_have_value("Head of IT")
    assert_fits(page, SCREENSHOTS / size / "refused-save.png")
