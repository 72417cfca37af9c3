"""The composer as a new user finds it, clicked through: tokens without a value are shown and
stop the send until filled in or given a fallback, To offers a record's contacts, snippets go in
at the caret and never into the signature, the toolbar is legible and its formatting reaches the
email, typed web addresses are tracked, an empty subject asks first and an empty body is refused,
files are checked for size before uploading and survive a refused send, and a forward carries
the forwarded email's files, each removable. Screenshots at 1280 and 390 px under
/tmp/composer-screens/."""

import base64
import email
from email import policy
from email.message import EmailMessage as MimeMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from mailboxes.models import EmailMessage, EmailTemplate, Signature, Snippet, TrackedLink
from mailboxes.outbox import sending
from mailboxes.sync.engine import sync_mailbox
from records.models import CustomObjectType, Record
from records.services import association_create, record_save
from tests.browser.conftest import PHONE
from tests.factories import CompanyFactory, ContactFactory, DealFactory, TicketFactory
from tests.mailboxes.inboxes import imap_mailbox, offline_mailbox

pytestmark = pytest.mark.browser
SCREENSHOTS = Path("/tmp/composer-screens")
# The smallest PNG: 1x1, transparent.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


@pytest.fixture
def inbox(owner):
    return offline_mailbox(owner)


@pytest.fixture
def deal(owner, contact):
    deal = DealFactory(owner=owner, name="Acme renewal")
    association_create(deal, contact)
    association_create(deal, CompanyFactory(owner=owner, name="Acme"))
    return deal


def open_composer(page, login, record, slug="contacts"):
    login(page, record.owner.username)
    page.goto(f"/records/{slug}/{record.pk}/")
    page.get_by_role("group", name="Actions").get_by_role("link", name="Email").click()
    composer = page.locator("#composer")
    # The editor is running once its toolbar shows.
    expect(composer.get_by_role("toolbar", name="Formatting")).to_be_visible()
    return composer


def body(composer):
    return composer.get_by_role("textbox", name="Message body")


def write(composer, text):
    editor = body(composer)
    editor.click()
    editor.press("Control+Home")
    editor.press_sequentially(text)


def send(composer):
    composer.get_by_role("button", name="Send", exact=True).click()


def screenshots(page, name):
    """The page at 1280 px, then at 390 px, where nothing may be wider than the screen."""
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{name}-1280.png", full_page=True)
    page.set_viewport_size(PHONE)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{name}: the page is {width} px wide at 390"
    page.locator("#composer").screenshot(path=SCREENSHOTS / f"{name}-390.png")
    page.set_viewport_size({"width": 1280, "height": 800})


def sent_html(message) -> str:
    mime = email.message_from_bytes(bytes(message.raw), policy=policy.default)
    return mime.get_body(("html",)).get_content()


# --- tokens ---------------------------------------------------------------------------------


def test_a_template_on_a_deal_flags_a_token_without_a_value_until_it_is_filled_in(
    page, login, owner, contact, inbox, deal
):
    EmailTemplate.objects.create(
        owner=owner,
        name="Renewal",
        subject="{{ deal.name }}",
        body="<p>Hi {{ contact.first_name }},</p>"
        "<p>As {{ contact.job_title }} at {{ company.name }} you will like it.</p>",
    )
    composer = open_composer(page, login, deal, "deals")
    # The deal's one contact is the recipient; its contact and company fill the tokens.
    expect(composer.get_by_label("To", exact=True)).to_have_value("olivia@acme.example")
    composer.get_by_label("Insert template").select_option(label="Renewal")
    expect(composer.get_by_label("Subject")).to_have_value("Acme renewal")
    expect(body(composer)).to_contain_text("Hi Olivia,")
    expect(body(composer)).to_contain_text("As {{ contact.job_title }} at Acme")
    missing = composer.get_by_role("group", name="Missing values")
    expect(missing).to_contain_text("Some tokens have no value for this email.")
    expect(missing).to_contain_text("{{ contact.job_title }}")
    expect(missing).to_contain_text("Contact job title")

    send(composer)
    expect(missing.get_by_role("alert")).to_contain_text("Fill in or give a fallback")
    expect(missing.get_by_label("Value for Contact job title")).to_be_focused()
    assert not EmailMessage.objects.exists()
    screenshots(page, "missing-token")

    missing.get_by_label("Value for Contact job title").fill("head of purchasing")
    missing.get_by_role("button", name="Fill in").click()
    expect(missing).to_be_hidden()
    expect(body(composer)).to_contain_text("As head of purchasing at Acme you will like it.")
    send(composer)
    expect(page.locator("#timeline-items > li.activity-email").first).to_contain_text(
        "Acme renewal"
    )
    sent = EmailMessage.objects.get()
    assert "Hi Olivia," in sent.html_body
    assert "As head of purchasing at Acme you will like it." in sent.html_body


def test_a_typed_token_the_server_cannot_fill_comes_back_listed_and_a_fallback_sends_it(
    page, login, owner, contact, inbox
):
    composer = open_composer(page, login, contact)
    composer.get_by_label("Subject").fill("Hello")
    write(composer, "Dear {{ contact.job_title }}")
    send(composer)
    # The server refused it: the panel comes back with the token, the text as it was.
    composer = page.locator("#composer")
    missing = composer.get_by_role("group", name="Missing values")
    expect(missing).to_contain_text("Contact job title")
    expect(composer.get_by_text("These tokens have no value for this email")).to_be_visible()
    assert not EmailMessage.objects.exists()

    # The rep gives the token a fallback in the text instead of a value.
    editor = body(composer)
    editor.click()
    editor.press("Control+End")
    editor.press("Backspace")
    editor.press("Backspace")
    editor.press_sequentially('| default:"colleague" }}')
    send(composer)
    expect(page.locator("#timeline-items > li.activity-email").first).to_contain_text("Hello")
    assert "Dear colleague" in EmailMessage.objects.get().html_body


# --- To -------------------------------------------------------------------------------------


def test_to_offers_the_contacts_of_deals_companies_tickets_and_custom_objects(
    page, login, owner, contact, inbox
):
    bob = ContactFactory(
        owner=owner, first_name="Bob", last_name="Brown", emails=["bob@acme.example"]
    )
    boats = CustomObjectType.objects.create(name="Boat", plural="Boats", slug="boats")
    records = [
        ("deals", DealFactory(owner=owner)),
        ("companies", CompanyFactory(owner=owner)),
        ("tickets", TicketFactory(owner=owner)),
        ("boats", record_save(Record(kind="custom", custom_type=boats, name="Sea", owner=owner))),
    ]
    login(page, owner.username)
    for slug, record in records:
        association_create(record, contact)
        association_create(record, bob)
        page.goto(f"/records/{slug}/{record.pk}/")
        page.get_by_role("group", name="Actions").get_by_role("link", name="Email").click()
        composer = page.locator("#composer")
        to = composer.get_by_label("To", exact=True)
        expect(to).to_have_value("")  # two contacts: the rep chooses
        offered = composer.get_by_role("group", name="Associated contacts")
        expect(offered.get_by_role("button")).to_have_count(2)
        olivia = offered.get_by_role("button", name="Olivia Owned")
        olivia.click()
        offered.get_by_role("button", name="Bob Brown").click()
        expect(to).to_have_value("olivia@acme.example, bob@acme.example")
        expect(olivia).to_have_attribute("aria-pressed", "true")
        olivia.click()  # and off again
        expect(to).to_have_value("bob@acme.example")
        expect(olivia).to_have_attribute("aria-pressed", "false")
    composer.get_by_label("Subject").fill("Your boat")
    write(composer, "She is ready.")
    send(composer)
    expect(page.locator("#timeline-items > li.activity-email").first).to_contain_text("Your boat")
    assert EmailMessage.objects.get().to_addrs == ["bob@acme.example"]


# --- snippets, the toolbar, links -----------------------------------------------------------


def test_a_snippet_goes_in_at_the_caret_and_never_into_the_signature(
    page, login, owner, contact, inbox
):
    Signature.objects.create(owner=owner, name="Me", body="<p>Ann, Acme sales</p>", is_default=True)
    Snippet.objects.create(owner=owner, name="Prices", body="<p>our prices start at 10 EUR.</p>")
    composer = open_composer(page, login, contact)
    editor = body(composer)
    signature = editor.locator(".signature")
    expect(signature).to_have_text("Ann, Acme sales")
    write(composer, "Dear Olivia, ")
    composer.get_by_label("Insert snippet").select_option(label="Prices")
    expect(editor.locator("div").first).to_have_text("Dear Olivia, our prices start at 10 EUR.")

    # With the caret in the signature, the snippet goes just above it.
    signature.get_by_text("Acme sales").click()
    composer.get_by_label("Insert snippet").select_option(label="Prices")
    expect(signature).to_have_text("Ann, Acme sales")
    above = signature.locator("xpath=preceding-sibling::*[1]")
    expect(above).to_have_text("our prices start at 10 EUR.")
    composer.get_by_label("Subject").fill("Prices")
    send(composer)
    expect(page.locator("#timeline-items > li.activity-email").first).to_contain_text("Prices")
    html = EmailMessage.objects.get().html_body
    assert html.count("our prices start at 10 EUR.") == 2
    assert '<div class="signature"><p>Ann, Acme sales</p></div>' in html


def test_the_toolbar_is_legible_and_its_formatting_reaches_the_email(
    page, login, owner, contact, inbox
):
    composer = open_composer(page, login, contact)
    toolbar = composer.get_by_role("toolbar", name="Formatting")
    names = ["Bold", "Italic", "Underline", "Bulleted list", "Numbered list", "Align left"]
    names += ["Center", "Align right", "Insert link"]
    for name in names:
        button = toolbar.get_by_role("button", name=name, exact=True)
        expect(button).to_be_visible()
        # Each button shows a drawn icon (inline SVG, no font involved) or its letter.
        drawn = button.evaluate(
            """b => { const svg = b.querySelector('svg');
                      if (!svg) return /^[BIU]$/.test(b.textContent.trim());
                      const r = svg.getBoundingClientRect();
                      return r.width >= 12 && r.height >= 12 && svg.children.length > 0; }"""
        )
        assert drawn, name
    editor = body(composer)
    write(composer, "Our offer")
    toolbar.get_by_role("button", name="Center").click()
    editor.press("Enter")
    toolbar.get_by_role("button", name="Align left").click()
    toolbar.get_by_role("button", name="Bulleted list").click()
    editor.press_sequentially("fast")
    editor.press("Enter")
    editor.press_sequentially("cheap")
    editor.press("Enter")
    editor.press("Enter")  # out of the list
    editor.press_sequentially("Call me")
    editor.press("Shift+Home")
    toolbar.get_by_label("Size").select_option(label="Large")
    toolbar.get_by_role("button", name="Italic").click()
    expect(toolbar.get_by_role("button", name="Italic")).to_have_attribute("aria-pressed", "true")
    editor.press("End")
    toolbar.locator("input[data-inline-image]").set_input_files(
        {"name": "dot.png", "mimeType": "image/png", "buffer": PNG}
    )
    expect(editor.locator('img[src^="data:image/png"]')).to_have_count(1)
    screenshots(page, "toolbar")
    toolbar.screenshot(path=SCREENSHOTS / "toolbar-close-up.png")
    composer.get_by_label("Subject").fill("Offer")
    send(composer)
    expect(page.locator("#timeline-items > li.activity-email").first).to_contain_text("Offer")
    # After the server's sanitizer: alignment, the list, the size and the italics are kept.
    html = sent_html(EmailMessage.objects.get())
    assert 'style="text-align:center"' in html
    assert "<ul><li>fast</li><li>cheap</li></ul>" in html.replace("<br>", "")
    assert "font-size:18px" in html and "<i>Call me" in html
    # The picture goes as an inline part the HTML names.
    mime = email.message_from_bytes(bytes(EmailMessage.objects.get().raw), policy=policy.default)
    (picture,) = [p for p in mime.walk() if p["Content-ID"]]
    assert picture.get_content() == PNG and f'src="cid:{picture["Content-ID"][1:-1]}"' in html


def test_typed_web_addresses_become_tracked_links(page, login, owner, contact, inbox):
    composer = open_composer(page, login, contact)
    composer.get_by_label("Subject").fill("Links")
    # The editor links an address once a space follows it; the last one, typed at the very end,
    # the server links.
    write(composer, "Prices at https://acme.example/pricing and docs at www.acme.example/docs")
    expect(body(composer).locator("a")).to_have_attribute("href", "https://acme.example/pricing")
    send(composer)
    expect(page.locator("#timeline-items > li.activity-email").first).to_contain_text("Links")
    sent = EmailMessage.objects.get()
    assert set(TrackedLink.objects.filter(message=sent).values_list("url", flat=True)) == {
        "https://acme.example/pricing",
        "https://www.acme.example/docs",
    }
    assert sent_html(sent).count("/t/c/") == 2


# --- the checks before sending --------------------------------------------------------------


def test_an_empty_subject_asks_first_and_an_empty_body_is_refused(
    page, login, owner, contact, inbox
):
    composer = open_composer(page, login, contact)
    send(composer)
    expect(composer.get_by_text("Write a message: the email's body is empty.")).to_be_visible()
    write(composer, "Just checking in.")
    send(composer)
    expect(composer.get_by_text("Write a message")).to_be_hidden()
    confirm = composer.get_by_role("button", name="Send without subject")
    expect(composer.get_by_text("This email has no subject.")).to_be_visible()
    expect(confirm).to_be_focused()
    assert not EmailMessage.objects.exists()
    screenshots(page, "no-subject")
    confirm.click()
    expect(page.locator("#timeline-items > li.activity-email")).to_have_count(1)
    assert EmailMessage.objects.get().subject == ""


def test_files_over_the_limit_are_refused_before_uploading(
    page, login, owner, contact, inbox, settings, tmp_path
):
    settings.CRM_ATTACHMENTS_MAX_BYTES = 1024 * 1024
    big = tmp_path / "scan.pdf"
    big.write_bytes(b"0" * (3 * 1024 * 1024 // 2))
    small = tmp_path / "quote.pdf"
    small.write_bytes(b"%PDF-1.4 quote")
    composer = open_composer(page, login, contact)
    expect(composer.get_by_text("Up to 1 MB in total.")).to_be_visible()
    posts = []
    page.on("request", lambda r: r.method == "POST" and posts.append(r.url))
    files = composer.get_by_label("Attachments")
    files.set_input_files(str(big))
    expect(composer.get_by_text("These files come to 1.5 MB")).to_be_visible()
    assert files.evaluate("input => input.files.length") == 0  # nothing this large is sent
    files.set_input_files(str(small))
    expect(composer.get_by_text("These files come to")).to_be_hidden()
    composer.get_by_label("Subject").fill("Quote")
    write(composer, "Attached.")
    send(composer)
    expect(page.locator("#timeline-items > li.activity-email").first).to_contain_text("Quote")
    assert len(posts) == 1
    assert EmailMessage.objects.get().has_attachments


def test_a_refused_send_keeps_the_chosen_files(page, login, owner, contact, inbox, tmp_path):
    (tmp_path / "quote.pdf").write_bytes(b"%PDF-1.4 quote")
    (tmp_path / "notes.txt").write_bytes(b"Notes")
    composer = open_composer(page, login, contact)
    composer.get_by_label("To", exact=True).fill("olivia@acme.example, nope")
    composer.get_by_label("Subject").fill("Quote")
    write(composer, "Attached.")
    composer.get_by_label("Attachments").set_input_files(
        [str(tmp_path / "quote.pdf"), str(tmp_path / "notes.txt")]
    )
    send(composer)
    composer = page.locator("#composer")
    expect(composer.get_by_text("Not valid email addresses: nope")).to_be_visible()
    kept = composer.get_by_role("list", name="Attached files")
    expect(kept.get_by_role("listitem")).to_have_count(2)
    expect(kept).to_contain_text("quote.pdf")
    screenshots(page, "kept-files")
    composer.get_by_role("button", name="Remove notes.txt").click()
    expect(composer.get_by_text("notes.txt")).to_have_count(0)
    composer.get_by_label("To", exact=True).fill("olivia@acme.example")
    send(composer)
    expect(page.locator("#timeline-items > li.activity-email").first).to_contain_text("Quote")
    mime = email.message_from_bytes(bytes(EmailMessage.objects.get().raw), policy=policy.default)
    assert [(p.get_filename(), p.get_content()) for p in mime.iter_attachments()] == [
        ("quote.pdf", b"%PDF-1.4 quote")
    ]


def test_a_forward_carries_the_forwarded_files_each_removable(
    page, login, owner, contact, dovecot, smtp_sink
):
    inbox = imap_mailbox(owner, dovecot, smtp_sink)
    mime = MimeMessage()
    mime["From"], mime["To"], mime["Subject"] = contact.email, inbox.email, "Signed documents"
    mime["Message-ID"], mime["Date"] = (
        make_msgid(domain="acme.example"),
        format_datetime(timezone.now()),
    )
    mime.set_content("Here they are.")
    mime.add_attachment(b"%PDF-1.4 contract", maintype="application", subtype="pdf",
                        filename="contract.pdf")  # fmt: skip
    mime.add_attachment(b"Terms", maintype="text", subtype="plain", filename="terms.txt")
    dovecot.deliver(mime.as_bytes(policy=policy.SMTP))
    sync_mailbox(inbox.pk)

    login(page, owner.username)
    page.goto(f"/records/contacts/{contact.pk}/")
    page.locator("#timeline-items > li.activity-email").first.get_by_role(
        "link", name="Forward"
    ).click()
    composer = page.locator("#composer")
    kept = composer.get_by_role("list", name="Attached files")
    expect(kept.get_by_role("listitem")).to_have_count(2)
    expect(kept).to_contain_text("contract.pdf")
    expect(kept).to_contain_text("terms.txt")
    screenshots(page, "forward")
    composer.get_by_role("button", name="Remove terms.txt").click()
    expect(kept.get_by_role("listitem")).to_have_count(1)
    composer.get_by_label("To", exact=True).fill("boss@crm.example")
    send(composer)
    forwarded = page.locator("#timeline-items > li.activity-email").first
    expect(forwarded).to_contain_text("Fwd: Signed documents")
    sending.send_due()
    (sent,) = [email.message_from_bytes(m.data, policy=policy.default) for m in smtp_sink.messages]
    assert [(p.get_filename(), p.get_content()) for p in sent.iter_attachments()] == [
        ("contract.pdf", b"%PDF-1.4 contract")
    ]


def test_a_template_is_written_as_rich_text_and_keeps_its_lines(page, login, owner, contact, inbox):
    login(page, owner.username)
    page.goto("/settings/email/templates/")
    page.get_by_label("Name").fill("Thanks")
    page.get_by_label("Subject").fill("Thank you")
    editor = page.get_by_label("Body")
    editor.click()
    editor.press_sequentially("Hi ")
    page.get_by_label("Personalize").select_option(label="Contact first name")
    editor.press_sequentially(",")
    editor.press("Enter")
    editor.press("Enter")
    editor.press_sequentially("Thanks for the call.")
    editor.press("Shift+Home")
    page.get_by_role("button", name="Bold").click()
    screenshots_of_page(page, "template-editor")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("Saved template “Thanks”.")
    saved = EmailTemplate.objects.get()
    assert "<b>Thanks for the call.</b>" in saved.body and "{{ contact.first_name }}" in saved.body

    page.goto(f"/records/contacts/{contact.pk}/")
    page.get_by_role("group", name="Actions").get_by_role("link", name="Email").click()
    composer = page.locator("#composer")
    composer.get_by_label("Insert template").select_option(label="Thanks")
    lines = body(composer).locator(":scope > div")
    expect(lines.nth(0)).to_have_text("Hi Olivia,")
    expect(lines.nth(1)).to_have_text("")  # the empty line between them
    expect(lines.nth(2).locator("b")).to_have_text("Thanks for the call.")
    send(composer)
    expect(page.locator("#timeline-items > li.activity-email").first).to_contain_text("Thank you")
    text = EmailMessage.objects.get().text_body
    assert text.startswith("Hi Olivia,\n") and "Thanks for the call." in text


def screenshots_of_page(page, name):
    SCREENSHOTS.mkdir(exist_ok=True)
    for viewport in ({"width": 1280, "height": 800}, PHONE):
        page.set_viewport_size(viewport)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= viewport["width"], f"{name}: the page is {width} px wide"
        page.screenshot(path=SCREENSHOTS / f"{name}-{viewport['width']}.png", full_page=True)
    page.set_viewport_size({"width": 1280, "height": 800})
