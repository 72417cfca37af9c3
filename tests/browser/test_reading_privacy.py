"""Reading, replying to and forwarding an email with remote images tells its sender nothing:
no request leaves for another host until the rep clicks "Show images".

The email comes from Dovecot through sync, as any would. Its remote images (a tracking pixel
and a logo) are served by a second local HTTP server on another host name and port, which
records every request it gets; the browser's own record of requests counts any that went to
a host other than the live server's.
"""

import email
from email import policy
from email.message import EmailMessage as MimeMessage
from email.utils import format_datetime, make_msgid
from urllib.parse import urlsplit

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from mailboxes.models import TrackedLink
from mailboxes.outbox import sending
from mailboxes.sync.engine import sync_mailbox
from tests.browser.image_server import PNG
from tests.mailboxes.inboxes import imap_mailbox

pytestmark = pytest.mark.browser
REP = "rep@crm.example"


def newsletter(sender: str, base: str) -> bytes:
    """An email with a tracking pixel, a remote logo, a link and an inline (cid:) chart."""
    msg = MimeMessage()
    msg["From"], msg["To"] = f"Olivia <{sender}>", REP
    msg["Subject"] = "Our spring catalogue"
    msg["Message-ID"] = make_msgid(domain="acme.example")
    msg["Date"] = format_datetime(timezone.now())
    msg.set_content("Our spring catalogue")
    msg.add_alternative(
        f"<html><body><p>Hello! See <a href='{base}/catalogue'>the catalogue</a>.</p>"
        f'<p><img src="{base}/logo.png?for=rep" alt="Acme logo" width="40" height="40"></p>'
        '<p><img src="cid:chart@acme.example" alt="Chart" width="30" height="30"></p>'
        f'<div style="background:url({base}/background.png)">Styled</div>'
        f'<img src="{base}/pixel.gif?u=rep" width="1" height="1" alt="">'
        "</body></html>",
        subtype="html",
    )
    msg.get_payload()[1].add_related(PNG, "image", "png", cid="<chart@acme.example>")
    return bytes(msg)


def test_reading_replying_and_forwarding_load_nothing_until_show_images(
    page, login, owner, contact, dovecot, smtp_sink, images, live_server
):
    inbox = imap_mailbox(owner, dovecot, smtp_sink, email=REP)
    dovecot.deliver(newsletter(contact.email, images.base))
    sync_mailbox(inbox.pk)
    app = urlsplit(live_server.url).netloc
    elsewhere = []
    page.context.on(
        "request",
        lambda r: (
            urlsplit(r.url).scheme in ("http", "https")
            and urlsplit(r.url).netloc != app
            and elsewhere.append(r.url)
        ),
    )

    # Reading: the thread and its frame.
    login(page, owner.username)
    page.goto(f"/records/contacts/{contact.pk}/")
    item = page.locator("#timeline-items > li.activity-email").first
    item.get_by_role("link", name="View thread").click()
    banner = item.locator("[data-images-banner]")
    expect(banner).to_contain_text("Images are hidden")
    frame = item.locator("iframe.email-frame").content_frame
    expect(frame.get_by_text("Hello! See")).to_be_visible()
    expect(frame.locator('img[alt="Chart"]')).to_be_attached()
    # The email's own image, from the stored message.
    expect(frame.locator('img[alt="Chart"]')).to_have_js_property("naturalWidth", 1)
    page.wait_for_load_state("networkidle")
    assert frame.locator('img[alt="Acme logo"]').evaluate("i => i.naturalWidth") == 0
    # Close takes the thread out of the timeline; View thread brings it back.
    item.get_by_role("button", name="Close the thread").click()
    expect(item.locator(".thread")).to_have_count(0)
    item.get_by_role("link", name="View thread").click()
    expect(item.locator(".thread")).to_have_count(1)

    # Replying: the quote shows in the editor, its remote images blocked.
    item.get_by_role("link", name="Reply", exact=True).click()
    composer = page.locator("#composer")
    editor = composer.get_by_role("textbox", name="Message body")
    expect(editor).to_contain_text("Hello! See")
    expect(editor.locator("img[data-crm-src]")).to_have_count(2)
    editor.click()
    editor.press("Control+Home")
    editor.press_sequentially("Thanks, Olivia")
    page.wait_for_load_state("networkidle")
    composer.get_by_role("button", name="Send").click()
    expect(page.locator("#timeline-items > li.activity-email")).to_have_count(2)

    # Forwarding.
    original = page.locator("#timeline-items > li.activity-email").last
    original.get_by_role("link", name="Forward").click()
    composer = page.locator("#composer")
    expect(composer.get_by_role("textbox", name="Message body")).to_contain_text(
        "Forwarded message"
    )
    page.wait_for_load_state("networkidle")
    composer.get_by_role("button", name="Close the composer").click()

    assert elsewhere == []
    assert images.hits == []

    # The reply went out with the quote as it was, none of its links tracked.
    sending.send_due()
    (sent,) = [email.message_from_bytes(m.data, policy=policy.default) for m in smtp_sink.messages]
    html = sent.get_body(("html",)).get_content()
    assert "Thanks, Olivia" in html
    assert f'href="{images.base}/catalogue"' in html
    assert f'src="{images.base}/pixel.gif?u=rep"' in html
    assert not TrackedLink.objects.exists()

    # Show images: this email's frame loads them, with no referrer.
    banner = original.locator("[data-images-banner]")
    banner.get_by_role("link", name="Show images").click()
    expect(banner.get_by_text("Images are hidden")).to_be_hidden()
    frame = original.locator("iframe.email-frame").content_frame
    expect(frame.locator('img[alt="Acme logo"]')).to_have_attribute(
        "src", f"{images.base}/logo.png?for=rep"
    )
    expect(frame.locator('img[alt="Acme logo"]')).to_have_js_property("naturalWidth", 1)
    expect(frame.locator('img[src*="pixel.gif"]')).to_have_js_property("naturalWidth", 1)
    assert sorted(images.paths()) == ["/logo.png", "/pixel.gif"]
    assert all(referer is None for _, referer in images.hits)
    assert "/background.png" not in images.paths()  # CSS cannot load anything, ever

    # Always show images from Olivia: her email's frame loads them without asking. The thread
    # now holds the rep's reply too, whose quote of her email still loads nothing.
    banner.get_by_role("button", name=f"Always show images from {contact.email}").click()
    expect(original.locator("article.thread-message")).to_have_count(2)
    theirs, reply = original.locator("article.thread-message").all()
    expect(theirs.locator("[data-images-banner]")).to_contain_text("are always shown")
    expect(reply.locator("[data-images-banner]")).to_contain_text("Images are hidden")
    frame = theirs.locator("iframe.email-frame").content_frame
    expect(frame.locator('img[alt="Acme logo"]')).to_have_attribute(
        "src", f"{images.base}/logo.png?for=rep"
    )
    expect(frame.locator('img[alt="Acme logo"]')).to_have_js_property("naturalWidth", 1)
    expect(frame.locator('img[src*="pixel.gif"]')).to_have_js_property("naturalWidth", 1)
    reply_frame = reply.locator("iframe.email-frame").content_frame
    expect(reply_frame.get_by_text("Thanks, Olivia")).to_be_visible()
    page.wait_for_load_state("networkidle")
    assert len(images.hits) == 4
