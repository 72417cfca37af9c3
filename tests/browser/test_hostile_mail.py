"""The hostile-mail pass: hostile email synced from a real inbox and read in Chromium runs no
script anywhere, on the timeline, in the thread view or in the message frames.

The corpus's hostile messages are delivered to Dovecot from a contact, synced, and every
thread is opened. Their payloads call alert() and friends; the classic vectors added here call
back to the live server instead (`/__xss__/<n>`), which catches a script in any frame, sandboxed
or not, whatever it may do.
"""

from email.message import EmailMessage as MimeMessage
from email.utils import format_datetime, make_msgid

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from mailboxes.models import EmailMessage
from mailboxes.sync.engine import sync_mailbox
from tests.factories import ContactFactory
from tests.mailboxes.corpus import corpus_files
from tests.mailboxes.inboxes import REP_ADDRESS, imap_mailbox

pytestmark = pytest.mark.browser
SENDER = "mallory@hostile.example"

# Each calls back with its own number if it ever runs.
VECTORS = [
    "<script>fetch('/__xss__/{n}')</script>",
    "<img src=x onerror=\"fetch('/__xss__/{n}')\">",
    "<svg onload=\"fetch('/__xss__/{n}')\"></svg>",
    "<a href=\"javascript:fetch('/__xss__/{n}')\">click me</a>",
    "<iframe srcdoc=\"<script>parent.fetch('/__xss__/{n}')</script>\"></iframe>",
    "<body onload=\"fetch('/__xss__/{n}')\">",
    "<details open ontoggle=\"fetch('/__xss__/{n}')\">x</details>",
    "<math><mtext><table><mglyph><style><img src=x onerror=\"fetch('/__xss__/{n}')\">",
    "<form action=\"javascript:fetch('/__xss__/{n}')\"><button>go</button></form>",
    "<object data=\"javascript:fetch('/__xss__/{n}')\"></object>",
    "<meta http-equiv=refresh content=\"0;url=javascript:fetch('/__xss__/{n}')\">",
    "<div style=\"background:url(javascript:fetch('/__xss__/{n}'))\">styled</div>",
    "<noscript><p title=\"</noscript><img src=x onerror=fetch('/__xss__/{n}')>\">",
]


def from_sender(raw: bytes) -> bytes:
    """The message with its From replaced by the contact's address (the rest untouched)."""
    head, sep, body = raw.partition(b"\r\n\r\n")
    if not sep:
        head, sep, body = raw.partition(b"\n\n")
    newline = b"\r\n" if sep == b"\r\n\r\n" else b"\n"
    lines = [line for line in head.split(newline) if not line.lower().startswith(b"from:")]
    return newline.join([b"From: Mallory <" + SENDER.encode() + b">", *lines]) + sep + body


def vector_message(n: int, html: str) -> bytes:
    msg = MimeMessage()
    msg["From"], msg["To"] = f"Mallory <{SENDER}>", REP_ADDRESS
    msg["Subject"] = f"Vector {n}"
    msg["Message-ID"] = make_msgid(domain="hostile.example")
    msg["Date"] = format_datetime(timezone.now())
    msg.set_content(f"Vector {n}")
    msg.add_alternative(f"<html><body><p>Vector {n}</p>{html}</body></html>", subtype="html")
    return bytes(msg)


def test_hostile_mail_read_in_the_browser_runs_no_script(page, login, owner, dovecot):
    contact = ContactFactory(owner=owner, first_name="Mallory", emails=[SENDER])
    inbox = imap_mailbox(owner, dovecot)
    hostile = corpus_files("html_hostile")
    assert hostile, "the corpus's hostile messages are missing"
    for path in hostile:
        dovecot.deliver(from_sender(path.read_bytes()))
    for n, vector in enumerate(VECTORS):
        dovecot.deliver(vector_message(n, vector.format(n=n)))
    sync_mailbox(inbox.pk)
    logged = EmailMessage.objects.filter(contacts=contact).count()
    assert logged == len(hostile) + len(VECTORS)

    callbacks, dialogs = [], []
    page.on("request", lambda r: "/__xss__/" in r.url and callbacks.append(r.url))
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    login(page, owner.username)
    page.goto(f"/records/contacts/{contact.pk}/")
    items = page.locator("#timeline-items > li.activity-email")
    expect(items.first).to_be_visible()
    # Older activity loads as it scrolls into view.
    while page.locator(".timeline-more").count():
        page.locator(".timeline-more").last.scroll_into_view_if_needed()
        page.wait_for_load_state("networkidle")
    expect(items).to_have_count(logged)
    for item in items.all():
        item.get_by_role("link", name="View thread").click()
        frames = item.locator("iframe.email-frame")
        expect(frames.first).to_be_attached()
        for frame in frames.all():
            # Frames load lazily: bring each into view and wait for its body.
            frame.scroll_into_view_if_needed()
            expect(frame.content_frame.locator("body")).to_be_attached()
    page.wait_for_load_state("networkidle")

    assert callbacks == []
    assert dialogs == []
