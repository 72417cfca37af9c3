"""Settings > Email > SMTP API and Settings > Integrations > API keys as an admin uses them:
generate a token, copy its password (the clipboard holds it), see it gone from the page, view
details, reset the password, delete the token; create an API key with a scope, copy it,
revoke it. At 1280 and 390 px, screenshots under /tmp/pages-screens/."""

from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import expect

from tests.browser.conftest import DESKTOP, PHONE, open_settings
from tests.browser.fit import SIZES, assert_fits
from transactional.credentials import services
from transactional.credentials.auth import authenticate_api_key, authenticate_smtp, verify_smtp
from transactional.credentials.models import Credential

pytestmark = pytest.mark.browser
SCREENSHOTS = Path("/tmp/pages-screens")
LONG_NAME = "Order confirmations from the international web shop"
CLIPBOARD = ["clipboard-read", "clipboard-write"]


def open_with_clipboard(new_page, size):
    if size == "phone":
        return new_page(viewport=PHONE, is_mobile=True, has_touch=True, permissions=CLIPBOARD)
    return new_page(viewport=DESKTOP, permissions=CLIPBOARD)


def open_section(page, group, name):
    open_settings(page, name, group=group)
    expect(page.get_by_role("heading", name=name, level=1)).to_be_visible()


def admin_at(new_page, login, size, group, name):
    """A page with the clipboard, signed in as the admin, at a settings section."""
    page = open_with_clipboard(new_page, size)
    login(page, "admin")
    open_section(page, group, name)
    return page


def open_form(page, summary, name_label, name):
    """Unfold the create form and type the name."""
    page.get_by_text(summary, exact=True).first.click()
    page.get_by_label(name_label).fill(name)


def copy(page, label):
    page.get_by_role("button", name=f"Copy {label}").click()
    expect(page.get_by_role("button", name=f"Copy {label}")).to_have_text("Copied")
    return page.evaluate("navigator.clipboard.readText()")


def confirm(page, button):
    asked = []

    def accept(dialog):
        asked.append(dialog.message)
        dialog.accept()

    page.once("dialog", accept)
    button.click()
    return asked


@pytest.mark.parametrize("size", SIZES)
def test_an_admin_generates_copies_resets_and_deletes_an_smtp_token(
    new_page, login, admin_user, size
):
    page = open_with_clipboard(new_page, size)
    login(page, "admin")
    open_section(page, "Email", "SMTP API")
    expect(page.get_by_text("No token yet.")).to_be_visible()

    page.get_by_text("Generate token", exact=True).first.click()
    page.get_by_role("button", name="Generate token").click()  # no name yet
    expect(page.get_by_label("Token name")).to_be_focused()
    assert not Credential.objects.exists()
    page.get_by_label("Token name").fill(LONG_NAME)
    page.get_by_label("Create contacts for email recipients").check()
    page.get_by_label("Campaign name").fill("Receipts")
    page.get_by_role("button", name="Generate token").click()

    expect(
        page.get_by_role("alert").filter(has_text="You won't see this password again.")
    ).to_be_visible()
    username = page.get_by_label("Username", exact=True).input_value()
    password = page.get_by_label("Password", exact=True).input_value()
    assert copy(page, "Password") == password
    assert copy(page, "Username") == username
    token = verify_smtp(username, password)
    assert token.name == LONG_NAME and token.create_contacts
    assert_fits(page, SCREENSHOTS / size / "smtp-api-generated.png")

    # Gone as soon as the page is left.
    open_section(page, "Email", "SMTP API")
    row = page.get_by_role("row").filter(has_text=LONG_NAME)
    expect(row).to_contain_text(username)
    expect(row).to_contain_text(admin_user.display_name)
    # verify_smtp above used it: the list says when.
    expect(row.locator('td[data-label="Last used"]')).not_to_have_text("never")
    assert password not in page.content()
    assert_fits(page, SCREENSHOTS / size / "smtp-api.png")

    row.get_by_role("link", name=f"View details of {LONG_NAME}").click()
    expect(page.get_by_role("heading", name=LONG_NAME, level=1)).to_be_visible()
    stats = page.locator(".token-stats")
    expect(stats).to_contain_text("Delivered")
    expect(page.locator(".token-history")).to_contain_text(f"Created by {admin_user.display_name}")
    assert_fits(page, SCREENSHOTS / size / "smtp-api-token.png")

    asked = confirm(page, page.get_by_role("button", name="Reset password"))
    expect(
        page.get_by_role("alert").filter(has_text="You won't see this password again.")
    ).to_be_visible()
    assert asked == [
        f"Reset the password of “{LONG_NAME}”? Email sent with the current password will be "
        "refused from now on."
    ]
    new_password = page.get_by_label("Password", exact=True).input_value()
    assert new_password != password
    assert copy(page, "Password") == new_password
    assert verify_smtp(username, password) is None
    assert verify_smtp(username, new_password) == token

    row = page.get_by_role("row").filter(has_text=LONG_NAME)
    confirm(page, row.get_by_role("button", name=f"Delete {LONG_NAME}"))
    expect(page.get_by_role("status")).to_have_text(
        f"Token “{LONG_NAME}” deleted: email sent with it is refused from now on."
    )
    expect(page.get_by_text("No token yet.")).to_be_visible()
    assert verify_smtp(username, new_password) is None
    assert_fits(page, SCREENSHOTS / size / "smtp-api-deleted.png")


@pytest.mark.parametrize("size", SIZES)
def test_an_admin_creates_copies_and_revokes_an_api_key(new_page, login, admin_user, size):
    page = admin_at(new_page, login, size, "Integrations", "API keys")

    open_form(page, "Create key", "Key name", "ERP integration")
    page.get_by_role("button", name="Create key").click()
    expect(page.get_by_role("alert").filter(has_text="Choose at least one scope.")).to_be_visible()
    expect(page.get_by_label("Key name")).to_have_value("ERP integration")
    assert_fits(page, SCREENSHOTS / size / "api-keys-error.png")

    page.get_by_label("transactional-email:", exact=False).first.check()
    page.get_by_role("button", name="Create key").click()
    expect(
        page.get_by_role("alert").filter(has_text="You won't see this key again.")
    ).to_be_visible()
    key = page.get_by_label("API key", exact=True).input_value()
    assert copy(page, "API key") == key
    credential = authenticate_api_key(f"Bearer {key}")
    assert credential.scopes == ["transactional-email"]
    assert_fits(page, SCREENSHOTS / size / "api-keys-created.png")

    open_section(page, "Integrations", "API keys")
    row = page.get_by_role("row").filter(has_text="ERP integration")
    expect(row).to_contain_text(credential.api_key_hint)
    assert key not in page.content()
    assert_fits(page, SCREENSHOTS / size / "api-keys.png")

    asked = confirm(page, row.get_by_role("button", name="Revoke ERP integration"))
    assert asked == ["Revoke “ERP integration”? Requests with it will be refused from now on."]
    expect(page.get_by_role("status")).to_have_text(
        "Key “ERP integration” revoked: requests with it are refused from now on."
    )
    expect(page.get_by_text("No key yet.")).to_be_visible()
    assert authenticate_api_key(f"Bearer {key}") is None


@pytest.mark.parametrize("size", SIZES)
def test_an_admin_unlocks_a_token_locked_by_failed_logins(new_page, login, admin_user, size):
    issued = services.smtp_token_create("Web shop", admin_user)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        authenticate_smtp(issued.username, "guess", client_address="198.51.100.7")
    page = open_with_clipboard(new_page, size)
    login(page, "admin")
    open_section(page, "Email", "SMTP API")

    row = page.get_by_role("row").filter(has_text="Web shop")
    expect(row).to_contain_text("Locked after failed logins")
    assert_fits(page, SCREENSHOTS / size / "smtp-api-locked.png")
    row.get_by_role("button", name="Unlock Web shop").click()

    expect(page.get_by_role("status")).to_have_text("Token “Web shop” can log in again.")
    expect(page.get_by_text("Locked after failed logins")).to_have_count(0)
    assert authenticate_smtp(issued.username, issued.password, client_address="203.0.113.9")


@pytest.mark.parametrize("size", SIZES)
def test_a_token_made_through_the_api_shows_its_expiry(new_page, login, admin_user, size):
    """A token made with the HTTP API (HubSpot's smtp-tokens) is listed with its expiry date,
    12 months on; one made on the page is listed without (it never expires)."""
    services.smtp_token_create("Made on the page", admin_user)
    api_key = services.api_key_create("Shop", admin_user, scopes=["transactional-email"]).api_key
    page = open_with_clipboard(new_page, size)
    made = page.request.post(
        "/marketing/v3/transactional/smtp-tokens",
        headers={"Authorization": f"Bearer {api_key}"},
        data={"campaignName": "Receipts", "createContact": True},
    )
    assert made.status == 201
    token = Credential.objects.get(lookup_id=made.json()["id"])
    expires = f"Expires {token.expires_at:%-d %b %Y}"
    login(page, "admin")
    open_section(page, "Email", "SMTP API")

    expect(page.get_by_role("row").filter(has_text=made.json()["id"])).to_contain_text(expires)
    expect(page.get_by_role("row").filter(has_text="Made on the page")).not_to_contain_text(
        "Expires"
    )
    assert_fits(page, SCREENSHOTS / size / "smtp-api-expiry.png")
    page.get_by_role("link", name="View details of Receipts").click()
    expect(page.get_by_role("definition").filter(has_text=f"{token.expires_at:%Y}")).to_have_count(
        1
    )
    assert_fits(page, SCREENSHOTS / size / "smtp-api-token-expiry.png")


def reload_resubmitting(page):
    """Reload the page a POST answered: the browser sends the form again (a browser that asks
    first is answered yes)."""
    page.once("dialog", lambda dialog: dialog.accept())
    return page.reload()


@pytest.mark.parametrize("size", SIZES)
def test_reloading_after_generate_reset_or_create_makes_nothing_twice(
    new_page, login, admin_user, size
):
    page = admin_at(new_page, login, size, "Email", "SMTP API")
    open_form(page, "Generate token", "Token name", "Web shop")
    page.get_by_role("button", name="Generate token").click()
    password = page.get_by_label("Password", exact=True).input_value()

    response = reload_resubmitting(page)
    assert response.request.method == "POST" and response.status == 409
    expect(page.get_by_role("heading", name="Already done: nothing was made again")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text(
        "This form was already sent: token “Web shop” was generated then, and its password "
        "was shown once. If you did not copy it, reset the token's password to get a new one."
    )
    expect(page.get_by_label("Password", exact=True)).to_have_count(0)
    assert password not in page.content()
    assert Credential.objects.filter(name="Web shop").count() == 1
    assert_fits(page, SCREENSHOTS / size / "smtp-api-reloaded.png")

    # The link goes back to the list: a page whose reload sends nothing.
    page.get_by_role("link", name="Back to the list").click()
    expect(page.get_by_role("row").filter(has_text="Web shop")).to_have_count(1)

    # Reset, then reload: the password shown stays the one that works.
    row = page.get_by_role("row").filter(has_text="Web shop")
    confirm(page, row.get_by_role("button", name="Reset password of Web shop"))
    new_password = page.get_by_label("Password", exact=True).input_value()
    assert reload_resubmitting(page).status == 409
    expect(page.get_by_role("alert")).to_contain_text("the password of “Web shop” was reset then")
    token = Credential.objects.get(name="Web shop")
    assert verify_smtp(token.username, new_password) == token

    # An API key, created then reloaded: one key.
    open_section(page, "Integrations", "API keys")
    open_form(page, "Create key", "Key name", "ERP integration")
    page.get_by_label("transactional-email:", exact=False).first.check()
    page.get_by_role("button", name="Create key").click()
    key = page.get_by_label("API key", exact=True).input_value()
    assert reload_resubmitting(page).status == 409
    expect(page.get_by_role("alert")).to_contain_text(
        "key “ERP integration” was created then, and the key was shown once."
    )
    assert Credential.objects.filter(name="ERP integration").count() == 1
    assert authenticate_api_key(f"Bearer {key}") is not None
    assert_fits(page, SCREENSHOTS / size / "api-keys-reloaded.png")


@pytest.mark.parametrize("size", SIZES)
def test_an_admin_sets_a_tokens_sending_limits(new_page, login, admin_user, size):
    page = admin_at(new_page, login, size, "Email", "SMTP API")
    open_form(page, "Generate token", "Token name", "Web shop")
    page.get_by_label("Messages a minute").fill("30")
    assert_fits(page, SCREENSHOTS / size / "smtp-api-generate-form.png")
    page.get_by_role("button", name="Generate token").click()
    token = Credential.objects.get(name="Web shop")
    assert (token.minute_limit, token.hour_limit) == (30, None)

    open_section(page, "Email", "SMTP API")
    page.get_by_role("link", name="View details of Web shop").click()
    expect(page.get_by_label("Messages a minute")).to_have_value("30")
    expect(page.get_by_label("Messages an hour")).to_have_value("")
    page.get_by_label("Messages an hour").fill("20")
    page.get_by_role("button", name="Save limits").click()
    expect(page.get_by_role("alert")).to_have_text(
        "An hour's limit cannot be lower than a minute's (30)."
    )
    expect(page.get_by_label("Messages an hour")).to_have_value("20")
    assert_fits(page, SCREENSHOTS / size / "smtp-api-limits-error.png")

    page.get_by_label("Messages a minute").fill("")
    page.get_by_label("Messages an hour").fill("500")
    page.get_by_role("button", name="Save limits").click()
    expect(page.get_by_role("status")).to_have_text(
        "Sending limits of “Web shop” saved: they hold from its next message."
    )
    expect(page.locator(".token-history")).to_contain_text(
        f"Sending limits changed by {admin_user.display_name}"
    )
    token.refresh_from_db()
    assert token.sending_limits == (settings.SMTP_API_MINUTE_LIMIT, 500)
    assert_fits(page, SCREENSHOTS / size / "smtp-api-limits.png")
