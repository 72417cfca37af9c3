"""A rep's email preferences as they set and use them: Settings > General's "Email" part, then
the composer opening with them, and an email sent with one of them turned around for it.
Screenshots at 1280 and 390 px go to /tmp/preferences-screens/."""

import email
import re
from email import policy
from pathlib import Path

import pytest
from playwright.sync_api import expect

from mailboxes.models import EmailMessage, EmailPreferences, SendAsAddress
from mailboxes.outbox import sending
from tests.browser.conftest import DESKTOP, PHONE, settings_menu
from tests.browser.fit import assert_fits
from tests.mailboxes.inboxes import imap_mailbox

pytestmark = pytest.mark.browser
SCREENSHOTS = Path("/tmp/preferences-screens")
REP = "rep@crm.example"


@pytest.fixture
def inbox(owner, dovecot, smtp_sink):
    box = imap_mailbox(owner, dovecot, smtp_sink, email=REP)
    SendAsAddress.objects.create(mailbox=box, email="sales@crm.example", display_name="Acme Sales")
    return box


def shots(page, name, locator=None):
    """The page at 1280 px and at 390 px, fitting both; then back to 1280."""
    for size in (DESKTOP, PHONE):
        page.set_viewport_size(size)
        assert_fits(page, SCREENSHOTS / f"{name}-{size['width']}.png")
        if locator is not None:
            locator.screenshot(path=SCREENSHOTS / f"{name}-{size['width']}-close.png")
    page.set_viewport_size(DESKTOP)


def open_general(page):
    page.get_by_role("banner").get_by_role("link", name="Settings").click()
    settings_menu(page).get_by_role("link", name="General").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("General")
    return page.get_by_role("region", name="Email")


def test_a_rep_sets_their_email_defaults_and_the_composer_opens_with_them(
    page, login, owner, contact, inbox, smtp_sink
):
    login(page, owner.username)
    section = open_general(page)
    expect(section.get_by_label("From address")).to_have_value(f"{inbox.pk}:{REP}")
    expect(section.get_by_label("Log new emails in the CRM")).to_be_checked()
    expect(section.get_by_label("Track opens and clicks of new emails")).to_be_checked()
    expect(section).to_contain_text("an invisible image tells when the email is opened")
    section.get_by_label("From address").select_option(label="Acme Sales <sales@crm.example>")
    section.get_by_label("Font").select_option(label="Georgia")
    section.get_by_label("Size").select_option(label="16 px")
    section.get_by_label("Track opens and clicks of new emails").uncheck()
    page.get_by_role("button", name="Save").click()

    expect(page.get_by_role("status")).to_contain_text("Your preferences are saved.")
    section = page.get_by_role("region", name="Email")
    expect(section.get_by_label("Font")).to_have_value("georgia")
    expect(section.get_by_label("Track opens and clicks of new emails")).not_to_be_checked()
    shots(page, "general-saved", section)
    saved = EmailPreferences.objects.get(user=owner)
    assert (saved.from_address, saved.font_family, saved.font_size) == (
        "sales@crm.example",
        "georgia",
        16,
    )

    page.goto(f"/records/contacts/{contact.pk}/")
    page.get_by_role("group", name="Actions").get_by_role("link", name="Email").click()
    composer = page.locator("#composer")
    expect(composer.get_by_label("From")).to_have_value(f"{inbox.pk}:sales@crm.example")
    expect(composer.get_by_label("Track opens and clicks")).not_to_be_checked()
    expect(composer.get_by_label("Log in CRM")).to_be_checked()
    expect(composer).to_contain_text("Puts this email on the timeline")
    editor = composer.get_by_role("textbox", name="Message body")
    expect(editor).to_be_visible()
    font = editor.evaluate("e => [getComputedStyle(e).fontFamily, getComputedStyle(e).fontSize]")
    assert font == ["Georgia, serif", "16px"]
    editor.click()
    editor.press_sequentially("Our prices: https://acme.example/pricing today.")
    # The words typed show in that font too, not only the empty box.
    line = editor.locator("div").first
    assert line.evaluate("e => getComputedStyle(e).fontFamily") == "Georgia, serif"
    composer.get_by_label("Subject").fill("Prices")
    composer.get_by_label("Track opens and clicks").check()  # for this email only
    shots(page, "composer-with-defaults", composer)
    composer.get_by_role("button", name="Send", exact=True).click()

    item = page.locator("#timeline-items > li.activity-email").first
    expect(item).to_contain_text("Prices")
    sending.send_due()
    (received,) = smtp_sink.messages
    mime = email.message_from_bytes(received.data, policy=policy.default)
    assert mime["From"] == "Acme Sales <sales@crm.example>"
    html = mime.get_body(("html",)).get_content()
    assert html.startswith('<div style="font-family:Georgia, serif;font-size:16px">')
    assert re.search(r'<img src="[^"]*/t/o/[^"]+\.gif"', html) and "/t/c/" in html
    # The preference itself is unchanged: the next email starts untracked again.
    assert not EmailPreferences.objects.get(user=owner).track_by_default


def test_an_email_not_logged_is_found_on_the_email_home(page, login, owner, contact, inbox):
    login(page, owner.username)
    page.goto(f"/records/contacts/{contact.pk}/")
    page.get_by_role("group", name="Actions").get_by_role("link", name="Email").click()
    composer = page.locator("#composer")
    composer.get_by_label("Subject").fill("Just between us")
    editor = composer.get_by_role("textbox", name="Message body")
    editor.click()
    editor.press_sequentially("An early look at the numbers.")
    composer.get_by_label("Log in CRM").uncheck()
    composer.get_by_role("button", name="Send", exact=True).click()

    notice = page.locator("#composer-notice")
    expect(notice).to_contain_text("It is not logged in the CRM")
    expect(page.locator("#timeline-items")).not_to_contain_text("Just between us")
    assert EmailMessage.objects.get(subject="Just between us").activity_id is None
    shots(page, "not-logged-notice")
    notice.get_by_role("link", name="you find it under Email").click()
    row = page.locator("tr", has_text="Just between us")
    expect(row).to_contain_text("Not logged")
    shots(page, "email-home-not-logged")


def test_without_an_inbox_the_email_part_says_how_to_connect_one(page, login, owner):
    login(page, owner.username)
    section = open_general(page)
    expect(section).to_contain_text("You have no inbox connected yet")
    expect(section.get_by_label("From address")).to_have_count(0)
    shots(page, "general-no-inbox", section)
    section.get_by_role("link", name="Connect your email").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Connect")
