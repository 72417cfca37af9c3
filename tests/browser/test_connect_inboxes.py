"""Connecting and disconnecting inboxes as a person does it, from Settings > Email > Connected
inboxes.

The live server talks to the local fakes of Google, Microsoft and Exchange, and to a real
Dovecot and aiosmtpd; the browser follows the fakes' consent redirects like real ones.
"""

import re

import pytest
from playwright.sync_api import expect

from mailboxes.constants import MailboxKind, Provider
from mailboxes.models import DomainServerSettings, Mailbox
from tests.browser.conftest import settings_menu

# The fakes' and servers' pytest fixtures, made visible to this module's tests.

pytestmark = [
    pytest.mark.browser,
    # The SMTP sink takes AUTH without TLS on purpose (loopback only).
    pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning"),
]

EWS_PASSWORD = "correct horse battery"


def open_inbox_settings(page):
    """From any page: Settings > Email > Connected inboxes."""
    page.get_by_role("banner").get_by_role("link", name="Settings").click()
    settings_menu(page).get_by_role("group", name="Email").get_by_role(
        "link", name="Connected inboxes"
    ).click()


def start_connecting(page, email):
    """From any page: Settings > Email > Connected inboxes > Connect personal email, type the
    address, Continue."""
    open_inbox_settings(page)
    page.get_by_role("link", name="Connect personal email").click()
    page.get_by_label("Email address").fill(email)
    page.get_by_role("button", name="Continue").click()


def expect_connected(page, email):
    expect(page).to_have_url(re.compile(r"/settings/email/inboxes/$"))
    expect(page.get_by_role("status").filter(has_text=f"{email} is connected")).to_be_visible()
    inbox = page.locator("section.mailbox", has=page.get_by_role("heading", name=email))
    expect(inbox.locator(".status")).to_have_text("Connected")


def test_connecting_gmail_shows_the_recommendation_and_disclosure_then_google_consent(
    page, login, owner, fake_google
):
    login(page, "owner")
    start_connecting(page, "ana@gmail.com")

    recommended = page.locator(".provider-choice.recommended")
    expect(recommended.get_by_role("heading")).to_have_text(
        "Connect to Gmail / Google Workspace recommended"
    )
    expect(recommended).to_contain_text("read and send Gmail messages on your behalf")
    expect(page.get_by_text("gmail.com addresses are Gmail accounts.")).to_be_visible()
    recommended.get_by_role("link", name="Continue with Gmail / Google Workspace").click()

    expect(page.get_by_role("heading", name="What you are about to allow")).to_be_visible()
    expect(page.get_by_text("your send-as aliases")).to_be_visible()
    # The fake's consent screen agrees at once and sends the browser back to the callback.
    page.get_by_role("link", name="Continue to Gmail / Google Workspace sign-in").click()

    expect_connected(page, "ana@gmail.com")
    assert Mailbox.objects.get(owner=owner).provider == Provider.GMAIL


def test_connecting_over_imap_with_advanced_options(page, login, owner, dovecot, smtp_sink):
    # An admin set the domain's servers; the login names differ from the address.
    DomainServerSettings.objects.create(
        domain="example.test",
        imap_host=dovecot.host,
        imap_port=dovecot.port,
        imap_security="none",
        smtp_host=smtp_sink.host,
        smtp_port=smtp_sink.port,
        smtp_security="none",
    )
    login(page, "owner")
    start_connecting(page, dovecot.email)
    page.get_by_role("link", name="Continue with Other (IMAP/SMTP)").click()

    expect(page.get_by_role("heading", name="Connect with IMAP and SMTP")).to_be_visible()
    expect(
        page.get_by_text("Server settings found in your administrator's settings for this domain.")
    ).to_be_visible()
    expect(page.get_by_label("Email address")).to_have_value(dovecot.email)
    page.get_by_label(re.compile(r"^Password")).fill("wrong password")
    advanced = page.get_by_text("Advanced options")
    advanced.click()
    expect(page.get_by_label("IMAP server")).to_have_value(dovecot.host)
    expect(page.get_by_label("SMTP port")).to_have_value(str(smtp_sink.port))
    page.get_by_label(re.compile(r"^Username")).fill(dovecot.user)
    page.get_by_label("The SMTP server uses a different login").check()
    page.get_by_label("SMTP username").fill(smtp_sink.user)
    page.get_by_label("SMTP password").fill(smtp_sink.password)
    page.get_by_role("button", name="Connect your inbox").click()

    # A refused sign-in keeps everything typed, so only the password needs fixing.
    expect(page.get_by_role("alert")).to_contain_text("Sign-in was refused")
    expect(page.get_by_label(re.compile(r"^Username"))).to_have_value(dovecot.user)
    expect(page.get_by_label("SMTP username")).to_have_value(smtp_sink.user)
    page.get_by_label(re.compile(r"^Password")).fill(dovecot.password)
    page.get_by_role("button", name="Connect your inbox").click()

    expect_connected(page, dovecot.email)
    box = Mailbox.objects.get(owner=owner)
    assert (box.provider, box.config["username"]) == (Provider.IMAP, dovecot.user)


def test_connecting_exchange_with_a_pasted_webmail_address(page, login, owner, fake_exchange):
    fake_exchange.add_mailbox("ana@example.test", password=EWS_PASSWORD)
    login(page, "owner")
    start_connecting(page, "ana@example.test")
    page.get_by_role("link", name="Continue with Exchange (on-premises)").click()

    expect(page.get_by_role("heading", name="Connect Exchange")).to_be_visible()
    expect(page.get_by_label("Email address")).to_have_value("ana@example.test")
    page.get_by_label("Password").fill(EWS_PASSWORD)
    page.get_by_text("Show optional fields").click()
    page.get_by_label("Exchange URL").fill(f"https://127.0.0.1:{fake_exchange.server.port}/owa/")
    page.get_by_role("button", name="Connect your inbox").click()

    expect_connected(page, "ana@example.test")
    assert Mailbox.objects.get(owner=owner).config["ews_url"] == fake_exchange.url


def test_connecting_office365_through_microsoft_sign_in(new_page, login, owner, fake_microsoft):
    fake_microsoft.add_user("ana@outlook.com", "Ana Lopez")
    # The fake's sign-in page has a certificate from a throwaway CA.
    page = new_page(ignore_https_errors=True)
    login(page, "owner")
    start_connecting(page, "ana@outlook.com")

    expect(page.get_by_text("Outlook.com accounts; connect with Microsoft sign-in")).to_be_visible()
    page.get_by_role("link", name="Continue with Office 365").click()
    expect(page.get_by_text("Shared mailboxes of Office 365 cannot be connected.")).to_be_visible()
    page.get_by_role("link", name="Continue to Office 365 sign-in").click()

    expect_connected(page, "ana@outlook.com")
    assert Mailbox.objects.get(owner=owner).provider == Provider.OFFICE365


def test_an_address_someone_else_connected_is_refused_without_naming_them(
    page, login, owner, teammate
):
    Mailbox.objects.create(
        kind=MailboxKind.PERSONAL,
        provider=Provider.IMAP,
        email="shared@acme.example",
        owner=teammate,
        secret={"password": "x"},
    )
    login(page, "owner")
    start_connecting(page, "shared@acme.example")

    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("shared@acme.example is already connected.")
    expect(alert).not_to_contain_text(teammate.display_name)
    expect(alert).not_to_contain_text("teammate")
    expect(page.get_by_label("Email address")).to_have_value("shared@acme.example")
    expect(page.locator(".provider-choice")).to_have_count(0)


def test_disconnecting_an_inbox_asks_first_then_removes_it(page, login, owner):
    # An apostrophe is valid in an address and must not break the confirmation script.
    Mailbox.objects.create(
        kind=MailboxKind.PERSONAL,
        provider=Provider.IMAP,
        email="o'brien@acme.example",
        owner=owner,
        secret={"password": "x"},
    )
    login(page, "owner")
    open_inbox_settings(page)
    asked = []

    def accept(dialog):
        asked.append(dialog.message)
        dialog.accept()

    page.once("dialog", accept)
    page.get_by_role("button", name="Disconnect").click()

    expect(page.get_by_role("status").first).to_have_text(
        "o'brien@acme.example is disconnected and its credentials are deleted."
    )
    expect(page.get_by_text("No inbox connected yet.")).to_be_visible()
    assert asked == ["Disconnect o'brien@acme.example? Its credentials will be deleted."]
    assert not Mailbox.objects.exists()


def test_an_admin_finds_a_reps_broken_inbox_and_disconnects_it(page, login, admin_user, teammate):
    inbox = Mailbox.objects.create(
        kind=MailboxKind.PERSONAL,
        provider=Provider.GMAIL,
        email="teammate@gmail.com",
        owner=teammate,
        secret={"refresh_token": "x"},
    )
    inbox.mark_needs_reconnect("Google ended this grant after seven days: the app is in Testing.")
    login(page, admin_user.username)
    page.get_by_role("banner").get_by_role("link", name="Settings").click()
    settings_menu(page).get_by_role("link", name="All inboxes").click()

    row = page.get_by_role("row").filter(has_text="teammate@gmail.com")
    expect(row).to_contain_text(teammate.display_name)
    expect(row).to_contain_text("Needs reconnect")
    expect(row).to_contain_text("the app is in Testing")
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Disconnect teammate@gmail.com").click()

    expect(page.get_by_role("status").first).to_have_text(
        "teammate@gmail.com is disconnected and its credentials are deleted."
    )
    expect(page.get_by_text("No inbox is connected yet.")).to_be_visible()
    assert not Mailbox.objects.filter(pk=inbox.pk).exists()
