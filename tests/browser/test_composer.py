"""Writing email from a record as a rep would: format, attach, send, schedule, reply, forward,
and the legal-basis check's two paths."""

import email
from email import policy
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from mailboxes.models import EmailMessage, Outbound
from mailboxes.outbox import sending
from privacy.services import opt_out_of_all, privacy_settings_update
from tests.mailboxes.inboxes import imap_mailbox

pytestmark = pytest.mark.browser
REP = "rep@crm.example"
SCREENSHOTS = Path("/tmp/composer-screens")


@pytest.fixture
def inbox(owner, dovecot, smtp_sink):
    return imap_mailbox(owner, dovecot, smtp_sink, email=REP)


def open_composer(page, login, contact):
    login(page, contact.owner.username)
    page.goto(page.url.split("/records/")[0] + f"/records/contacts/{contact.pk}/")
    page.get_by_role("group", name="Actions").get_by_role("link", name="Email").click()
    expect(page.locator("#composer")).to_be_visible()


def write(composer, text):
    """Type the body of the email, as the rep would."""
    editor = composer.get_by_role("textbox", name="Message body")
    editor.click()
    editor.press("Control+Home")  # above a quoted email
    editor.press_sequentially(text)


def caught(smtp_sink):
    return [email.message_from_bytes(m.data, policy=policy.default) for m in smtp_sink.messages]


def test_rep_formats_attaches_and_sends_an_email(page, login, contact, inbox, smtp_sink, tmp_path):
    open_composer(page, login, contact)
    composer = page.locator("#composer")
    expect(composer.get_by_label("To")).to_have_value("olivia@acme.example")
    composer.get_by_label("Subject").fill("Your quote")
    editor = composer.get_by_role("textbox", name="Message body")
    editor.click()
    editor.press_sequentially("Hello Olivia")
    editor.press("Control+a")
    composer.get_by_role("button", name="Bold").click()
    attachment = tmp_path / "quote.pdf"
    attachment.write_bytes(b"%PDF-1.4 quote")
    composer.get_by_label("Attachments").set_input_files(str(attachment))
    composer.get_by_role("button", name="Send").click()

    item = page.locator("#timeline-items > li.activity-email").first
    expect(item).to_contain_text("Your quote")
    expect(item).to_contain_text("Queued")
    sending.send_due()
    page.reload()
    expect(page.locator("#timeline-items > li.activity-email").first).to_contain_text("Sent")
    (sent,) = caught(smtp_sink)
    assert sent["Subject"] == "Your quote"
    assert "<b>Hello Olivia</b>" in sent.get_body(("html",)).get_content()
    assert [p.get_filename() for p in sent.iter_attachments()] == ["quote.pdf"]


def test_rep_schedules_an_email_and_cancels_it(page, login, contact, inbox, smtp_sink):
    open_composer(page, login, contact)
    composer = page.locator("#composer")
    composer.get_by_label("Subject").fill("Follow-up")
    write(composer, "Following up on our call.")
    composer.get_by_label("When").select_option("tomorrow_morning")
    composer.get_by_role("button", name="Send").click()
    item = page.locator("#timeline-items > li.activity-email").first
    expect(item).to_contain_text("Scheduled")
    expect(item.locator(".kind")).to_have_text("Email scheduled")  # not "Email sent" before it is
    item.get_by_role("button", name="Cancel").click()
    expect(page.locator("#timeline-items > li.activity-email").first).to_contain_text("Cancelled")
    sending.send_due()
    assert smtp_sink.messages == []


def test_rep_replies_and_forwards_from_the_timeline(page, login, contact, inbox, smtp_sink):
    open_composer(page, login, contact)
    composer = page.locator("#composer")
    composer.get_by_label("Subject").fill("Kickoff")
    write(composer, "Shall we start on Monday?")
    composer.get_by_role("button", name="Send").click()
    first_item = page.locator("#timeline-items > li.activity-email").first
    expect(first_item.locator(".kind")).to_have_text("Email queued")
    # Replying and forwarding wait until the email went out.
    expect(first_item.get_by_role("link", name="Reply", exact=True)).to_have_count(0)
    sending.send_due()
    page.reload()

    page.locator("#timeline-items > li.activity-email").first.get_by_role(
        "link", name="Reply", exact=True
    ).click()
    composer = page.locator("#composer")
    expect(composer.get_by_label("Subject")).to_have_value("Re: Kickoff")
    write(composer, "Monday works.")
    composer.get_by_role("button", name="Send").click()
    expect(page.locator("#timeline-items > li.activity-email")).to_have_count(2)
    sending.send_due()
    page.reload()

    page.locator("#timeline-items > li.activity-email").first.get_by_role(
        "link", name="Forward"
    ).click()
    composer = page.locator("#composer")
    expect(composer.get_by_label("Subject")).to_have_value("Fwd: Re: Kickoff")
    composer.get_by_label("To").fill("colleague@partner.example")
    composer.get_by_role("button", name="Send").click()
    forward = page.locator("#timeline-items > li.activity-email").first
    expect(forward).to_contain_text("Fwd: Re: Kickoff")
    expect(forward.locator(".kind")).to_have_text("Email queued")
    sending.send_due()
    page.reload()
    expect(page.locator("#timeline-items > li.activity-email").first.locator(".kind")).to_have_text(
        "Email forwarded"
    )
    first, reply = EmailMessage.objects.order_by("pk")[:2]
    assert reply.thread_id == first.thread_id
    page.locator("#timeline-items > li.activity-email").last.get_by_role(
        "link", name="View thread"
    ).click()
    expect(page.locator(".thread iframe")).to_have_count(2)


def test_privacy_on_rep_adds_the_subscription_then_sends(page, login, contact, owner, inbox):
    privacy_settings_update(actor=owner, gdpr_enabled=True)
    open_composer(page, login, contact)
    check = page.locator("#privacy-check")
    expect(check).to_contain_text("You can't send this email yet")
    check.get_by_text("Add subscription").first.click()
    check.locator("#id_sub-legal_basis").select_option(index=1)
    check.locator("#id_sub-explanation").fill("Asked for our offer at the trade fair")
    check.get_by_role("button", name="Add subscription").click()
    expect(page.locator("#privacy-check")).to_contain_text("continue writing")
    page.locator("#composer").get_by_label("Subject").fill("Our offer")
    write(page.locator("#composer"), "Here is our offer.")
    page.locator("#composer").get_by_role("button", name="Send").click()
    expect(page.locator("#timeline-items > li.activity-email").first).to_contain_text("Our offer")


def test_opted_out_contact_needs_a_one_time_basis_for_one_email(page, login, contact, owner, inbox):
    opt_out_of_all(contact, source="rep", actor=owner)
    open_composer(page, login, contact)
    check = page.locator("#privacy-check")
    expect(check).to_contain_text("You can't send this email yet")
    expect(check.get_by_text("Add subscription")).to_have_count(0)
    check.locator("summary", has_text="Provide a one-time legal basis").click()
    # The explanation is required: the browser itself refuses an empty one.
    check.get_by_role("button", name="Provide one-time legal basis").click()
    expect(page.locator("#privacy-check")).to_contain_text("You can't send this email yet")
    check.locator("#id_once-basis").select_option(index=1)
    check.locator("#id_once-explanation").fill("Sending the signed contract they asked for")
    check.get_by_role("button", name="Provide one-time legal basis").click()
    expect(page.locator("#privacy-check")).to_contain_text("continue writing")
    page.locator("#composer").get_by_label("Subject").fill("Your contract")
    write(page.locator("#composer"), "Your signed contract is attached.")
    page.locator("#composer").get_by_role("button", name="Send").click()
    expect(page.locator("#timeline-items > li.activity-email").first).to_contain_text(
        "Your contract"
    )
    assert Outbound.objects.get().one_time_basis_id is not None


def test_rep_starts_from_a_template_and_the_email_remembers_it(
    page, login, contact, inbox, smtp_sink
):
    from mailboxes.models import EmailTemplate

    template = EmailTemplate.objects.create(
        owner=contact.owner,
        name="Intro call",
        subject="Meeting {{ contact.first_name }}",
        body="<p>Hello {{ contact.first_name }}, shall we talk on Tuesday?</p>",
    )
    open_composer(page, login, contact)
    composer = page.locator("#composer")
    # The editor is ready (its toolbar shows) before a template can be inserted.
    expect(composer.get_by_role("toolbar", name="Formatting")).to_be_visible()
    with page.expect_response(lambda r: "/email/templates/" in r.url) as answer:
        composer.get_by_label("Insert template").select_option(label="Intro call")
    assert answer.value.ok
    expect(composer.get_by_label("Subject")).to_have_value("Meeting Olivia")
    editor = composer.get_by_role("textbox", name="Message body")
    expect(editor).to_contain_text("Hello Olivia, shall we talk on Tuesday?")
    composer.get_by_role("button", name="Send").click()
    expect(page.locator("#timeline-items > li.activity-email").first).to_contain_text(
        "Meeting Olivia"
    )
    outbound = Outbound.objects.get(message__subject="Meeting Olivia")
    assert outbound.template_id == template.pk
    sending.send_due()
    (sent,) = caught(smtp_sink)
    assert "shall we talk on Tuesday?" in sent.get_body(("html",)).get_content()


def test_rep_sees_a_lost_answer_checked_and_settles_it(
    page, new_page, login, contact, inbox, smtp_sink
):
    # The server keeps the message and drops the connection before answering.
    smtp_sink.handler.lose_answer = lambda n: "stored" if n == 1 else None
    open_composer(page, login, contact)
    composer = page.locator("#composer")
    composer.get_by_label("Subject").fill("Contract")
    write(composer, "The contract, as promised.")
    composer.get_by_role("button", name="Send").click()
    expect(page.locator("#timeline-items > li.activity-email").first).to_contain_text("Queued")

    sending.send_due()
    page.reload()
    item = page.locator("#timeline-items > li.activity-email").first
    expect(item).to_contain_text("Uncertain, checking")
    expect(item).to_contain_text("Checking the Sent folder before anything else.")

    Outbound.objects.update(next_attempt_at=timezone.now())  # the check is due
    sending.send_due()
    page.reload()
    item = page.locator("#timeline-items > li.activity-email").first
    expect(item.locator(".status")).to_have_text("Uncertain")
    item.get_by_text("Sending history").click()
    history = item.locator(".email-history li")
    expect(history).to_have_count(2)
    expect(history.nth(0)).to_contain_text("before the server answered")
    expect(history.nth(1)).to_contain_text("this server does not file what it sends")
    SCREENSHOTS.mkdir(exist_ok=True)
    for width, shot in ((1280, page), (390, new_page(viewport={"width": 390, "height": 844}))):
        if shot is not page:
            login(shot, contact.owner.username)
            shot.goto(page.url)
            shot.locator("#timeline-items > li.activity-email").first.get_by_text(
                "Sending history"
            ).click()
        width_used = shot.evaluate("document.documentElement.scrollWidth")
        assert width_used <= width, f"the page is {width_used} px wide at {width}"
        shot.screenshot(path=SCREENSHOTS / f"lost-answer-{width}.png", full_page=True)

    item.get_by_role("button", name="It was sent").click()
    item = page.locator("#timeline-items > li.activity-email").first
    expect(item.locator(".status")).to_have_text("Sent")
    item.get_by_text("Sending history").click()
    expect(item.locator(".email-history li")).to_have_count(3)
    expect(item.locator(".email-history li").nth(2)).to_contain_text("Marked as sent by the rep.")
    assert len(smtp_sink.messages) == 1
