"""Reading and answering a stranger's email: it tells its sender nothing and lends them none of
the CRM's links.

Remote images stay blocked in the message frame (its CSP allows data: images only) until the
user shows them, once or always for a sender; the images the email carries itself (cid:) show
as data: URLs. The composer's quote of an email blocks them too. A reply or a forward tracks
only the links the rep wrote: the quoted email's links are sent as they are.
"""

import base64
import email
import re
from email import policy
from email.message import EmailMessage as MimeMessage
from email.utils import make_msgid

import pytest
from django.test import override_settings

from mailboxes.constants import EMAIL_ACTIVITY, Direction
from mailboxes.models import EmailMessage, EmailThread, TrackedLink, TrustedImageSender
from records import timeline
from tests.mailboxes.inboxes import offline_mailbox

pytestmark = pytest.mark.django_db
BASE = "https://crm.example.com"
STRANGER = "mallory@stranger.example"
# The smallest PNG: 1x1, transparent.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)
HTML = (
    "<p>Hello, claim your prize <a href='https://evil.example/'>here</a>.</p>"
    '<p><img src="https://tracker.example/open.gif?u=42" width="1" height="1" alt=""></p>'
    '<p><img src="http://images.example/logo.png" alt="Logo"></p>'
    '<p><img src="cid:chart@stranger.example" alt="Chart"></p>'
    f'<p>Quoting you: <img src="{BASE}/t/o/OURPIXEL.gif" alt=""></p>'
)


@pytest.fixture(autouse=True)
def _base_url():
    with override_settings(CRM_BASE_URL=BASE, TRACKING_BUFFER="direct"):
        yield


@pytest.fixture
def inbox(owner):
    return offline_mailbox(owner)


def received(contact, html=HTML, *, sender=STRANGER, subject="You won"):
    """An email from `sender` logged on the contact, its body parsed when first shown."""
    mime = MimeMessage()
    mime["From"], mime["To"], mime["Subject"] = sender, "rep@crm.example", subject
    mime["Message-ID"] = make_msgid(domain="stranger.example")
    mime.set_content("Hello, claim your prize.")
    mime.add_alternative(html, subtype="html")
    mime.get_payload()[1].add_related(PNG, "image", "png", cid="<chart@stranger.example>")
    return EmailMessage.objects.create(
        thread=EmailThread.objects.create(subject=subject),
        direction=Direction.INCOMING,
        message_id=mime["Message-ID"],
        from_addr=sender,
        to_addrs=["rep@crm.example"],
        subject=subject,
        raw=mime.as_bytes(policy=policy.SMTP),  # CRLF, as servers hand it over
        body_parsed=False,
        activity=timeline.log(EMAIL_ACTIVITY, [contact]),
    )


def img_src_of(html: str) -> list[str]:
    return re.findall(r'<img[^>]*?\ssrc="([^"]*)"', html)


def img_src_directive(csp: str) -> str:
    return next(d.strip() for d in csp.split(";") if d.strip().startswith("img-src"))


# --- the message frame ----------------------------------------------------------------------


def test_the_frame_loads_no_remote_image_by_default(client, owner, contact):
    message = received(contact)
    client.force_login(owner)
    response = client.get(f"/email/{message.pk}/body/")
    csp = response["Content-Security-Policy"]
    assert img_src_directive(csp) == "img-src data:"
    assert "https:" not in csp and "http:" not in csp
    body = response.content.decode()
    srcs = img_src_of(body)
    # Only the image the email carries itself, as a data: URL; the rest keep their URL aside.
    assert srcs == [f"data:image/png;base64,{base64.b64encode(PNG).decode()}"]
    assert 'data-crm-src="https://tracker.example/open.gif?u=42"' in body
    assert 'data-crm-src="http://images.example/logo.png"' in body
    assert "OURPIXEL" not in body  # the CRM's own pixel is never loaded by reading
    assert response["Referrer-Policy"] == "no-referrer"


def test_show_images_relaxes_the_csp_for_that_one_view(client, owner, contact):
    message = received(contact)
    client.force_login(owner)
    response = client.get(f"/email/{message.pk}/body/?images=1")
    assert img_src_directive(response["Content-Security-Policy"]) == "img-src data: https: http:"
    srcs = img_src_of(response.content.decode())
    assert "https://tracker.example/open.gif?u=42" in srcs
    assert "http://images.example/logo.png" in srcs
    assert not any("OURPIXEL" in s for s in srcs)
    # The next view blocks them again.
    again = client.get(f"/email/{message.pk}/body/")
    assert img_src_directive(again["Content-Security-Policy"]) == "img-src data:"


def test_the_thread_offers_to_show_images_only_for_email_that_has_remote_ones(
    client, owner, contact
):
    message = received(contact)
    plain = received(contact, "<p>No pictures here</p>", subject="Plain")
    plain.thread = message.thread
    plain.save()
    client.force_login(owner)
    page = client.get(
        f"/records/contacts/{contact.pk}/email/{message.pk}/thread/", HTTP_HX_REQUEST="true"
    ).content.decode()
    assert page.count("data-images-banner") == 1
    assert f'href="/email/{message.pk}/body/?images=1" target="email-frame-{message.pk}"' in page
    assert f'name="email-frame-{message.pk}"' in page
    assert f"Always show images from {STRANGER}" in page
    assert "<script" not in page and " onclick=" not in page


def test_always_show_images_from_a_sender_is_one_users_choice(client, owner, teammate, contact):
    message = received(contact, sender="Mallory@Stranger.example")
    images_url = f"/records/contacts/{contact.pk}/email/{message.pk}/images/"
    client.force_login(owner)
    response = client.post(
        images_url, {"always": "1", "opened": message.pk}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert "are always shown" in response.content.decode()
    assert TrustedImageSender.objects.get().address == STRANGER
    frame = client.get(f"/email/{message.pk}/body/")
    assert "https:" in img_src_directive(frame["Content-Security-Policy"])
    assert "https://tracker.example/open.gif?u=42" in img_src_of(frame.content.decode())

    # A teammate who sees the same email still gets them blocked.
    client.force_login(teammate)
    assert (
        img_src_directive(client.get(f"/email/{message.pk}/body/")["Content-Security-Policy"])
        == "img-src data:"
    )

    client.force_login(owner)
    assert client.post(images_url, {"always": "0"}).status_code == 302
    assert not TrustedImageSender.objects.exists()
    frame = client.get(f"/email/{message.pk}/body/")
    assert img_src_directive(frame["Content-Security-Policy"]) == "img-src data:"


def test_only_those_who_see_the_email_can_choose_for_its_sender(client, outsider, contact):
    message = received(contact)
    client.force_login(outsider)
    response = client.post(
        f"/records/contacts/{contact.pk}/email/{message.pk}/images/", {"always": "1"}
    )
    assert response.status_code == 404
    assert client.get(f"/email/{message.pk}/body/?images=1").status_code == 404
    assert not TrustedImageSender.objects.exists()


def test_the_thread_opened_in_a_new_tab_is_a_page_of_its_own(client, owner, outsider, contact):
    """ "View thread" links to the thread's URL and loads it into the timeline with htmx; a
    middle-click opens that URL outside htmx: it answers the whole page, back to the record,
    without the Close button that only empties the timeline's slot."""
    message = received(contact)
    reply = received(contact, "<p>Thanks!</p>", subject="Re: You won")
    reply.thread = message.thread
    reply.save()
    url = f"/records/contacts/{contact.pk}/email/{message.pk}/thread/"
    client.force_login(owner)

    page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert '<nav class="mainnav"' in html  # the base layout, styled
    assert "<title>You won · " in html
    assert f'<a href="/records/contacts/{contact.pk}/">{contact.name}</a>' in html
    assert f'id="thread-{message.pk}"' in html
    assert f'name="email-frame-{message.pk}"' in html and f'name="email-frame-{reply.pk}"' in html
    assert "data-close-thread" not in html and ">Close<" not in html
    # The emails are not taken for the page's notices (django.contrib.messages).
    assert 'class="messages"' not in html

    fragment = client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert fragment.lstrip().startswith(f'<div class="thread" id="thread-{message.pk}">')
    assert "mainnav" not in fragment and "<title>" not in fragment
    assert f'name="email-frame-{reply.pk}"' in fragment
    assert 'data-close-thread aria-label="Close the thread">Close</button>' in fragment

    # "Always show images" on the thread's own page swaps the thread in place: still no Close.
    swapped = client.post(
        url.replace("/thread/", "/images/"),
        {"always": "1", "opened": message.pk},
        HTTP_HX_REQUEST="true",
        HTTP_HX_CURRENT_URL=f"http://testserver{url}",
    ).content.decode()
    assert f'id="thread-{message.pk}"' in swapped and "data-close-thread" not in swapped

    client.force_login(outsider)
    assert client.get(url).status_code == 404
    assert client.get(url, HTTP_HX_REQUEST="true").status_code == 404


# --- replying and forwarding ----------------------------------------------------------------


def composer_html(client, contact, message, mode):
    url = f"/records/contacts/{contact.pk}/email/?reply_to={message.pk}&mode={mode}"
    return client.get(url, HTTP_HX_REQUEST="true").context["form"].initial["html"]


def send(client, contact, inbox, message, mode, html):
    response = client.post(
        f"/records/contacts/{contact.pk}/email/",
        {
            "from_key": f"{inbox.pk}:rep@crm.example",
            "to": "olivia@acme.example",
            "subject": "Re: You won",
            "html": html,
            "records": [str(contact.pk)],
            "send_when": "now",
            "track": "on",
            "reply_to": message.pk,
            "mode": mode,
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    return EmailMessage.objects.filter(direction=Direction.OUTGOING).latest("pk")


def sent_html(message) -> str:
    mime = email.message_from_bytes(bytes(message.raw), policy=policy.default)
    return mime.get_body(("html",)).get_content()


@pytest.mark.parametrize("mode", ["reply", "forward"])
def test_the_quote_is_marked_sanitized_and_loads_no_remote_image(
    client, owner, inbox, contact, mode
):
    message = received(contact, HTML + '<p onclick="steal()">x</p>')
    client.force_login(owner)
    html = composer_html(client, contact, message, mode)
    assert '<blockquote class="crm-quote"' in html
    # Its own picture (a cid: part) comes along as a data: URL, loading nothing.
    assert img_src_of(html) == ["data:image/png;base64," + base64.b64encode(PNG).decode()]
    assert 'data-crm-src="https://tracker.example/open.gif?u=42"' in html
    assert "OURPIXEL" not in html and "onclick" not in html
    panel = client.get(
        f"/records/contacts/{contact.pk}/email/?reply_to={message.pk}&mode={mode}",
        HTTP_HX_REQUEST="true",
    ).content.decode()
    assert not re.search(r'[\s;]src="https?://', panel.replace("&quot;", '"'))


@pytest.mark.parametrize("mode", ["reply", "forward"])
def test_a_reply_or_forward_tracks_the_reps_links_never_the_quoted_ones(
    client, owner, inbox, contact, mode
):
    message = received(contact)
    client.force_login(owner)
    quote = composer_html(client, contact, message, mode)
    mine = '<p>Thanks! Our <a href="https://acme.example/offer">offer</a>.</p>'
    sent = send(client, contact, inbox, message, mode, mine + quote)

    assert list(TrackedLink.objects.filter(message=sent).values_list("url", flat=True)) == [
        "https://acme.example/offer"
    ]
    out = sent_html(sent)
    assert 'href="https://evil.example/"' in out
    assert f"{BASE}/t/c/" in out  # the rep's own link is tracked
    # The quote is sent as it was: its images have their URLs back.
    assert 'src="https://tracker.example/open.gif?u=42"' in out
    assert "data-crm-src" not in out
    # Its own picture goes out as an inline part of the new email.
    cid = re.search(r'src="cid:([^"]+@crm-mail)"', out).group(1)
    mime = email.message_from_bytes(bytes(sent.raw), policy=policy.default)
    assert [p.get_content() for p in mime.walk() if p["Content-ID"] == f"<{cid}>"] == [PNG]


def test_a_quoted_link_moved_out_of_the_quote_is_still_not_tracked(client, owner, inbox, contact):
    """An editor that drops the marker, a rep who copies the stranger's link into their text:
    the server knows the quoted email's links from the email itself."""
    message = received(contact)
    client.force_login(owner)
    quote = composer_html(client, contact, message, "reply").replace(' class="crm-quote"', "")
    mine = '<p>See <a href="https://evil.example/">their link</a></p>'
    sent = send(client, contact, inbox, message, "reply", mine + quote)
    assert not TrackedLink.objects.filter(message=sent).exists()
    assert f"{BASE}/t/c/" not in sent_html(sent)


# --- the image rules ------------------------------------------------------------------------


def test_image_rules_block_remote_images_keep_data_and_unblock_only_what_they_blocked():
    from mailboxes.mime import images

    data = f"data:image/png;base64,{base64.b64encode(PNG).decode()}"
    html = (
        f'<img src="{data}" alt="inline"><img alt="x" src="https://a.example/x.png">'
        '<img src="cid:missing@x"><img title=\'src="https://decoy.example/"\' src=HTTP://b.example/y>'
    )
    assert images.has_remote_images(html)
    blocked = images.rewrite_images(html, block_remote=True)
    assert img_src_of(blocked) == [data, "cid:missing@x"]
    assert not images.has_remote_images(blocked)
    assert images.unblock(blocked) == html
    # A blocked URL beside a src the rep's editor gave the image: the src stays.
    both = '<img data-crm-src="https://a.example/x.png" src="https://mine.example/y.png">'
    assert images.unblock(both) == both


def test_only_raster_images_of_the_message_itself_become_data_urls():
    from mailboxes.mime import parsing

    mime = MimeMessage()
    mime["From"], mime["To"], mime["Subject"] = STRANGER, "rep@crm.example", "Pictures"
    mime.set_content("x")
    mime.add_alternative('<img src="cid:a@x"><img src="cid:b@x">', subtype="html")
    html_part = mime.get_payload()[1]
    html_part.add_related(PNG, "image", "png", cid="<a@x>")
    html_part.add_related(b"<svg onload='x()'/>", "image", "svg+xml", cid="<b@x>")
    found = parsing.inline_images(mime.as_bytes(policy=policy.SMTP))
    assert found == {"a@x": ("image/png", PNG)}
    assert parsing.inline_images(b"not a message") == {}
