"""The 403 and 404 pages are the app's, with a way back; the development mail catcher opens a
caught email's links in a new tab and keeps its layout whatever the email holds. At 1280 and
390 px, screenshots under /tmp/pages-screens/."""

from email.message import EmailMessage
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.fit import SIZES, assert_fits, open_at

pytestmark = pytest.mark.browser
SCREENSHOTS = Path("/tmp/pages-screens")


@pytest.mark.parametrize("size", SIZES)
def test_a_missing_page_is_a_page_of_the_app_with_a_way_back(new_page, login, owner, size):
    page = open_at(new_page, size)
    login(page, "owner")

    response = page.goto("/records/contacts/999999/")

    assert response.status == 404
    expect(page.get_by_role("heading", name="Page not found", level=1)).to_be_visible()
    expect(page.get_by_role("banner").get_by_role("link", name="CRM Mail")).to_be_visible()
    assert_fits(page, SCREENSHOTS / size / "404.png")
    page.get_by_role("link", name="Back to the start page").click()
    expect(page.get_by_role("heading", name="Contacts", level=1)).to_be_visible()


@pytest.mark.parametrize("size", SIZES)
def test_a_refused_page_says_why_with_a_way_back(new_page, login, owner, size):
    page = open_at(new_page, size)
    login(page, "owner")

    response = page.goto("/settings/users/")

    assert response.status == 403
    expect(page.get_by_role("heading", name="You don't have access to this")).to_be_visible()
    expect(page.get_by_text("Only account admins can open the admin area.")).to_be_visible()
    assert_fits(page, SCREENSHOTS / size / "403.png")
    page.get_by_role("link", name="Back to the start page").click()
    expect(page.get_by_role("heading", name="Contacts", level=1)).to_be_visible()


@pytest.fixture
def catcher(settings, tmp_path, live_server):
    """The catcher's folder, with an HTML email whose link leads back to the app, and a text
    email with a line far longer than any screen."""
    settings.CRM_MAIL_CATCHER_DIR = tmp_path
    html = EmailMessage()
    html["From"], html["To"] = "sam@crm-demo.example", "ana@client.example"
    html["Subject"] = "Your proposal, with the pricing we talked about on the phone"
    html["Message-ID"] = "<" + "a-very-long-message-id-" * 4 + "@crm-demo.example>"
    html.set_content("See the proposal.")
    html.add_alternative(
        f'<p>Hi Ana,</p><p>See <a href="{live_server.url}/login/">the proposal</a>.</p>'
        f"<p>https://example.com/{'y' * 300}</p>",
        subtype="html",
    )
    (tmp_path / "2-html.eml").write_bytes(bytes(html))
    text = EmailMessage()
    text["From"], text["To"], text["Subject"] = "sam@crm-demo.example", "bo@x.example", "Plain"
    text.set_content(f"Hi Bo,\nThe link: {live_server.url}/login/?next={'x' * 300}\nBye")
    (tmp_path / "1-text.eml").write_bytes(bytes(text))
    return tmp_path


@pytest.mark.parametrize("size", SIZES)
def test_a_caught_emails_link_opens_in_a_new_tab(new_page, login, admin_user, catcher, size):
    page = open_at(new_page, size)
    login(page, admin_user.username)
    page.goto("/dev/mail/")
    page.get_by_role("link", name="Your proposal").click()
    frame = page.frame_locator("iframe[title='Email body']")
    expect(frame.get_by_text("Hi Ana,")).to_be_visible()
    # No script runs in the frame; its links may open outside it.
    sandbox = page.locator("iframe[title='Email body']").get_attribute("sandbox").split()
    assert "allow-scripts" not in sandbox and "allow-popups" in sandbox
    assert_fits(page, SCREENSHOTS / size / "dev-mail-html.png")

    with page.context.expect_page() as opened:
        frame.get_by_role("link", name="the proposal").click()

    # A tab of its own, out of the sandbox: the app's login page, which sends the signed-in
    # admin on to the contacts.
    tab = opened.value
    expect(tab.get_by_role("heading", name="Contacts", level=1)).to_be_visible()
    assert page.url.endswith("/dev/mail/2-html.eml")  # the catcher stays where it was


@pytest.mark.parametrize("size", SIZES)
def test_a_long_line_does_not_stretch_the_catcher(new_page, login, admin_user, catcher, size):
    page = open_at(new_page, size)
    login(page, admin_user.username)
    page.goto("/dev/mail/")
    page.get_by_role("link", name="Plain").click()

    body = page.locator(".email-text")
    expect(body).to_contain_text("Hi Bo,")
    assert_fits(page, SCREENSHOTS / size / "dev-mail-text.png")
    with page.context.expect_page() as opened:
        body.get_by_role("link").click()
    assert "/login/" in opened.value.url
