"""Transactional emails as a rep uses them: create one in the editor (an unknown token
refused, then fixed), publish it for the API (its email ID and a curl example that the Copy
button puts on the clipboard), and send it to chosen contacts after the review, which says
who is refused and why. At 1280 and 390 px, screenshots under /tmp/pages-screens/."""

from pathlib import Path

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from mailboxes.models import BouncedAddress, Outbound
from tests.browser.fit import SIZES, assert_fits, open_at
from tests.browser.test_transactional_credentials import copy, open_section, open_with_clipboard
from tests.factories import ContactFactory
from transactional.emails.models import EmailState, TransactionalEmail
from transactional.pool.models import SendingPool

pytestmark = pytest.mark.browser
SCREENSHOTS = Path("/tmp/pages-screens")
NAME = "Account ready: welcome for new customers of the international shop"


@pytest.fixture
def pool(db):
    pool = SendingPool.load()
    pool.enabled, pool.host = True, "127.0.0.1"
    pool.from_address, pool.from_name = "receipts@shop.test", "Shop"
    pool.save()
    return pool


@pytest.mark.parametrize("size", SIZES)
def test_a_rep_creates_publishes_and_sends_a_transactional_email(
    new_page, login, owner, pool, size
):
    ContactFactory(owner=owner, first_name="Ada", emails=["ada@client.test"])
    ContactFactory(owner=owner, first_name="Bo", emails=["bo@client.test"])
    BouncedAddress.objects.create(address="bo@client.test")
    page = open_with_clipboard(new_page, size)
    login(page, "owner")
    open_section(page, "Email", "Transactional emails")
    expect(page.get_by_text("No transactional email yet.")).to_be_visible()
    assert_fits(page, SCREENSHOTS / size / "transactional-emails-empty.png")
    page.get_by_role("link", name="Create email").click()

    page.get_by_label("Internal name").fill(NAME)
    page.get_by_label("Subject").fill("Welcome, {{ contact.shoe_size }}")
    editor = page.locator(".rich-text .editor")
    expect(editor).to_be_visible()
    editor.click()
    page.keyboard.type("Your account is ready, ")
    page.get_by_label("Personalize").select_option(label="Contact first name")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("alert").filter(has_text="Unknown token")).to_be_visible()
    assert not TransactionalEmail.objects.exists()
    assert_fits(page, SCREENSHOTS / size / "transactional-email-refused.png")
    # What was typed stays: only the subject is fixed.
    expect(page.locator(".rich-text .editor")).to_contain_text("Your account is ready")
    page.get_by_label("Subject").fill("Welcome, {{ contact.first_name }}")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", name=NAME, level=1)).to_be_visible()
    email = TransactionalEmail.objects.get()
    assert "{{ contact.first_name }}" in email.body and email.state == EmailState.DRAFT

    page.get_by_role("button", name="Publish for the API").click()
    expect(page.locator("#email-id")).to_have_text(str(email.pk))
    curl = page.get_by_label("Example request", exact=True).input_value()
    assert f'"emailId": {email.pk}' in curl and "single-email/send" in curl
    assert copy(page, "the example request") == curl
    assert_fits(page, SCREENSHOTS / size / "transactional-email-published.png")

    page.get_by_role("link", name="Send to contacts…").click()
    page.get_by_label("Contacts' email addresses").fill("ada@client.test, bo@client.test")
    page.get_by_role("button", name="Review").click()
    review = page.locator("#review")
    expect(review.get_by_role("row").filter(has_text="Ada")).to_contain_text("Welcome, Ada")
    expect(review.get_by_role("row").filter(has_text="bo@client.test")).to_contain_text(
        "bounced hard before"
    )
    assert not Outbound.objects.exists()
    assert_fits(page, SCREENSHOTS / size / "transactional-email-review.png")
    page.get_by_role("button", name="Send to 1 contact").click()
    expect(page.get_by_role("status")).to_have_text("Queued for 1 contact.")
    (outbound,) = Outbound.objects.all()
    assert outbound.recipients == ["ada@client.test"]

    open_section(page, "Email", "Transactional emails")
    expect(page.get_by_role("row").filter(has_text=NAME)).to_contain_text("Published")
    assert_fits(page, SCREENSHOTS / size / "transactional-emails.png")


@pytest.mark.parametrize("size", SIZES)
def test_the_api_docs_page_shows_the_generated_document_under_the_csp(new_page, login, owner, size):
    """Swagger UI, vendored, draws the API (single send, its aliases, SMTP tokens, the status
    history) from the generated OpenAPI document:
    nothing from another host, nothing the page's CSP refuses (new_page fails on that)."""
    page = open_with_clipboard(new_page, size)
    page.goto("/marketing/docs")
    expect(
        page.get_by_text("Send a published transactional email to one recipient").first
    ).to_be_visible()
    expect(
        page.get_by_text("/marketing/v3/email/send-statuses/{statusId}", exact=True)
    ).to_be_visible()
    page.screenshot(path=str(SCREENSHOTS / size / "api-docs.png"), full_page=False)
    # The tokens API, the status history and HubSpot's alias paths are drawn too.
    for tag in ("SMTP API tokens", "Delivery events"):
        expect(page.get_by_role("heading", name=tag)).to_be_visible()
    for path in (
        "/marketing/v3/transactional/smtp-tokens/{tokenId}/password-reset",
        "/marketing/transactional/2026-03/smtp-tokens",
        "/marketing/v4/email/single-send",
        "/marketing/v3/transactional/messages/{messageId}/events",
    ):
        expect(page.get_by_text(path, exact=True).first).to_be_visible()
    page.get_by_text(
        "/marketing/v3/transactional/smtp-tokens", exact=True
    ).first.scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOTS / size / "api-docs-tokens.png"), full_page=False)


@pytest.mark.parametrize("size", SIZES)
def test_the_review_shows_each_recipients_body_in_the_sandboxed_frame(
    new_page, login, owner, pool, size, live_server
):
    email = TransactionalEmail.objects.create(
        name="Welcome",
        subject="Welcome, {{ contact.first_name }}",
        body='<p>Hi {{ contact.first_name | default:"there" }}, your account is ready.</p>'
        '<p><a href="https://shop.test/start">Get started</a></p>',
    )
    ContactFactory(owner=owner, first_name="Ada", emails=["ada@client.test"])
    ContactFactory(owner=owner, first_name="Cyrus", last_name="Long", emails=["cy@client.test"])
    page = open_at(new_page, size)
    login(page, "owner")
    page.goto(live_server.url + reverse("transactional:email-send", args=[email.pk]))
    page.get_by_label("Contacts' email addresses").fill("ada@client.test, cy@client.test")
    page.get_by_role("button", name="Review").click()

    preview = page.locator("#preview")
    expect(preview.get_by_role("heading")).to_contain_text("The email Ada")
    frame = page.frame_locator("iframe[name=email-preview]")
    expect(frame.locator("body")).to_contain_text("Hi Ada, your account is ready.")
    # The frame runs no script: sandboxed without allow-scripts, and its own CSP.
    sandbox = page.locator("iframe[name=email-preview]").get_attribute("sandbox")
    assert "allow-scripts" not in sandbox and "allow-same-origin" not in sandbox
    # Chromium paints a frame below the fold only once it is scrolled to, as a reader does.
    page.locator("iframe[name=email-preview]").scroll_into_view_if_needed()
    assert_fits(page, SCREENSHOTS / size / "transactional-email-review-preview.png")

    page.get_by_role("link", name="Preview for Cyrus Long").click()
    expect(frame.locator("body")).to_contain_text("Hi Cyrus, your account is ready.")
    expect(preview.get_by_role("heading")).to_contain_text("The email Cyrus Long gets")
    expect(page.get_by_role("link", name="Preview for Cyrus Long")).to_have_attribute(
        "aria-current", "true"
    )
    assert_fits(page, SCREENSHOTS / size / "transactional-email-review-switched.png")
    assert not Outbound.objects.exists()  # previewing sends nothing
