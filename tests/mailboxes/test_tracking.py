"""Open and click tracking: instrumenting, the endpoints, classification, rollups, timeline."""

import base64
import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, transaction
from django.test import Client, RequestFactory, override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from mailboxes.constants import EMAIL_ACTIVITY, Direction
from mailboxes.models import (
    EmailMessage,
    EmailThread,
    TrackedLink,
    TrackingEvent,
    TrackingKind,
    TrackingRollup,
)
from mailboxes.sync import replies
from mailboxes.tracking import buffer, events, revocation, tokens, views
from mailboxes.tracking import links as tracked_links
from mailboxes.tracking.classify import Hit, classify
from records import timeline

BASE = "https://crm.example.com"
SAFARI = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Safari/605.1.15"
)
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
)
OUTLOOK_DESKTOP = "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17531; Pro)"
HTML = (
    "<html><body>"
    '<p><a href="https://shop.example/pricing?plan=pro&amp;utm=1" class="x">Pricing</a></p>'
    "<p><a href='http://blog.example/post'>Blog</a> <a href=\"mailto:rep@acme.example\">mail</a>"
    ' <a href="tel:+15550100">call</a> <a href="#top">top</a> <a href="/relative">rel</a>'
    ' <a title="a > b" href="https://docs.example/a">Docs</a>'
    ' <a title=" href=https://decoy.example/" HREF=https://docs.example/b>B</a> <a href>x</a></p>'
    '<!-- <a href="https://commented.example/">x</a> -->'
    f'<p><a href="{BASE}/preferences/TOKEN/">Unsubscribe or manage preferences</a></p>'
    "</body></html>"
)
TRACKED = [
    "https://shop.example/pricing?plan=pro&utm=1",
    "http://blog.example/post",
    "https://docs.example/a",
    "https://docs.example/b",
]


@pytest.fixture(autouse=True)
def _settings():
    # Written by the request (no Redis buffer) unless a test says otherwise.
    with override_settings(CRM_BASE_URL=BASE, TRACKING_BUFFER="direct"):
        yield


@pytest.fixture
def redis_buffer(redis_url):
    """Hits buffered as in production: this process's buffer, pushed to a Redis stream (the
    test's own), written to the database by `events.flush_events()`. Yields the stream.

    The set of deleted emails beside it is built as the periodic flush task builds it."""
    stream = f"test:tracking:{uuid.uuid4().hex}"
    with override_settings(
        TRACKING_BUFFER="redis", TRACKING_REDIS_URL=redis_url, TRACKING_STREAM=stream
    ):
        try:
            revocation.verify()
            yield stream
        finally:
            events.push_buffered()  # nothing left waiting for another test's stream
            client = buffer.redis_client()
            client.delete(*client.keys(f"{stream}*"))  # the stream and the keys named after it


def make_message(records=(), *, sent_at=None, owner=None, subject="Proposal"):
    activity = timeline.log(EMAIL_ACTIVITY, records, created_by=owner) if records else None
    return EmailMessage.objects.create(
        thread=EmailThread.objects.create(subject=subject),
        direction=Direction.OUTGOING,
        from_addr="rep@acme.example",
        to_addrs=["olivia@acme.example"],
        subject=subject,
        sent_at=sent_at or timezone.now() - timedelta(hours=1),
        body_parsed=True,
        activity=activity,
    )


def hrefs(html):
    return re.findall(r"""href=["']([^"']*)["']""", html)


def path_of(url):
    assert url.startswith(BASE)
    return url[len(BASE) :]


# --- instrument() -------------------------------------------------------------------------


@pytest.mark.django_db
def test_instrument_rewrites_web_links_and_appends_the_pixel():
    message = make_message()
    html = tracked_links.instrument(HTML, message)

    links = list(TrackedLink.objects.filter(message=message).order_by("position"))
    assert [(link.position, link.url) for link in links] == list(enumerate(TRACKED))
    out = hrefs(html)
    clicks = [h for h in out if h.startswith(f"{BASE}/t/c/")]
    assert len(clicks) == 4
    for href, link in zip(clicks, links, strict=True):
        target = tokens.verify_click_token(href.rsplit("/", 1)[1])
        assert (target.message_id, target.link_id, target.url) == (message.pk, link.pk, link.url)
    assert 'class="x"' in html and 'title="a > b"' in html
    assert 'title=" href=https://decoy.example/"' in html

    pixel = re.search(r'<img src="([^"]+)" width="1" height="1"', html).group(1)
    assert pixel.startswith(f"{BASE}/t/o/") and pixel.endswith(".gif")
    assert tokens.verify_open_token(pixel.rsplit("/", 1)[1][:-4]) == message.pk
    assert html.index(pixel) < html.index("</body>")
    assert TrackingRollup.objects.filter(message=message).exists()


@pytest.mark.django_db
def test_instrument_leaves_mailto_tel_anchors_relative_comments_and_unsubscribe_alone():
    message = make_message()
    out = hrefs(tracked_links.instrument(HTML, message))
    for kept in (
        "mailto:rep@acme.example",
        "tel:+15550100",
        "#top",
        "/relative",
        "https://commented.example/",
        f"{BASE}/preferences/TOKEN/",
    ):
        assert kept in out
    assert not any("shop.example" in h or "blog.example" in h for h in out)


@pytest.mark.django_db
def test_instrument_again_keeps_earlier_links_valid():
    message = make_message()
    first = tracked_links.instrument('<a href="https://a.example/">a</a>', message)
    second = tracked_links.instrument('<a href="https://b.example/">b</a>', message)
    assert list(
        TrackedLink.objects.filter(message=message).order_by("position").values_list("url")
    ) == [("https://a.example/",), ("https://b.example/",)]
    for html, url in ((first, "https://a.example/"), (second, "https://b.example/")):
        response = Client().get(path_of(hrefs(html)[0]))
        assert response.status_code == 302 and response["Location"] == url


@pytest.mark.django_db
def test_instrument_without_body_tag_appends_the_pixel_at_the_end():
    message = make_message()
    html = tracked_links.instrument("<p>Hi</p>", message)
    assert html.startswith("<p>Hi</p><img src=") and html.endswith(">")


QUOTED = (
    '<p>Hi Olivia, our <a href="https://acme.example/offer">offer</a>.</p>'
    '<div>On Monday, Mallory wrote:</div><blockquote class="note crm-quote">'
    '<p>Claim it <a href="https://evil.example/">here</a></p>'
    '<blockquote><a href="https://older.example/thread">older</a></blockquote>'
    '<a href="https://evil.example/after-nested">still quoted</a></blockquote>'
    '<p>-- <a href="https://acme.example/">Acme</a></p>'
)


@pytest.mark.django_db
def test_instrument_leaves_every_link_of_the_quote_block_alone():
    message = make_message()
    out = hrefs(tracked_links.instrument(QUOTED, message))
    assert [link.url for link in TrackedLink.objects.filter(message=message)] == [
        "https://acme.example/offer",
        "https://acme.example/",
    ]
    for kept in (
        "https://evil.example/",
        "https://older.example/thread",
        "https://evil.example/after-nested",
    ):
        assert kept in out
    assert sum(h.startswith(f"{BASE}/t/c/") for h in out) == 2


@pytest.mark.django_db
def test_instrument_leaves_links_of_the_quoted_email_alone_wherever_they_sit():
    """The editor dropped the marker and the rep moved a quoted link into their own text (as
    a browser writes it back): still not tracked, since the server read the quoted email."""
    parent = (
        '<p>Claim it <a href="HTTPS://Evil.Example">here</a> or '
        '<a href="https://b\u00fccher.example/a b">b</a></p>'
    )
    rep = (
        '<p>Mine: <a href="https://acme.example/offer">offer</a>, theirs: '
        '<a href="https://evil.example/">here</a></p><blockquote>'
        '<a href="https://xn--bcher-kva.example/a%20b">b</a></blockquote>'
    )
    message = make_message()
    out = hrefs(tracked_links.instrument(rep, message, untracked=tracked_links.link_urls(parent)))
    assert [link.url for link in TrackedLink.objects.filter(message=message)] == [
        "https://acme.example/offer"
    ]
    assert "https://evil.example/" in out and "https://xn--bcher-kva.example/a%20b" in out


# --- the click endpoint -------------------------------------------------------------------


@pytest.fixture
def clicked(db):
    message = make_message()
    html = tracked_links.instrument(HTML, message)
    links = list(TrackedLink.objects.filter(message=message).order_by("position"))
    paths = [path_of(h) for h in hrefs(html) if h.startswith(f"{BASE}/t/c/")]
    return message, links, paths


def forge(payload: bytes, mac: bytes = b"\0" * 16) -> str:
    return base64.urlsafe_b64encode(payload + mac).rstrip(b"=").decode()


def test_click_redirects_to_the_signed_url_and_records_the_event(client, clicked):
    message, links, paths = clicked
    response = client.get(paths[0], HTTP_USER_AGENT=SAFARI, REMOTE_ADDR="198.51.100.7")
    assert response.status_code == 302
    assert response["Location"] == TRACKED[0]
    assert "no-store" in response["Cache-Control"]
    event = TrackingEvent.objects.get(message=message)
    assert (event.kind, event.link_id, event.ip, event.user_agent) == (
        TrackingKind.CLICK,
        links[0].pk,
        "198.51.100.7",
        SAFARI,
    )


def test_click_with_a_tampered_token_is_404_and_records_nothing(client, clicked):
    _, _, paths = clicked
    token = paths[0].rsplit("/", 1)[1]
    flipped = token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]
    for bad in (flipped, token[:-1], token + "A", "x", "A" * 40, "!!notatoken!!"):
        assert client.get(f"/t/c/{bad}").status_code == 404
    assert not TrackingEvent.objects.exists()


def test_click_token_moved_to_another_link_or_url_is_404(client, clicked):
    message, links, paths = clicked
    raw = base64.urlsafe_b64decode(paths[0].rsplit("/", 1)[1] + "==")
    payload, mac = raw[:-16], raw[-16:]
    ids = tokens._pack(message.pk, links[0].pk)
    assert payload == ids + TRACKED[0].encode()
    other_link = tokens._pack(message.pk, links[1].pk) + TRACKED[0].encode()
    other_message = tokens._pack(message.pk + 1, links[0].pk) + TRACKED[0].encode()
    foreign = ids + b"https://evil.example/"
    for payload in (other_link, other_message, foreign):
        assert client.get(f"/t/c/{forge(payload, mac)}").status_code == 404
    with override_settings(SECRET_KEY="another-installation-" * 3):
        elsewhere = tokens.click_token(message.pk, links[0].pk, "https://evil.example/")
    assert client.get(f"/t/c/{elsewhere}").status_code == 404
    # An open token is not a click token.
    assert client.get(f"/t/c/{tokens.open_token(message.pk)}").status_code == 404
    assert not TrackingEvent.objects.exists()


def test_click_with_a_url_parameter_never_redirects_elsewhere(client, clicked):
    _, _, paths = clicked
    for query in ("url=https://evil.example/", "next=//evil.example", "u=x"):
        response = client.get(f"{paths[0]}?{query}")
        assert response.status_code == 404
    assert not TrackingEvent.objects.exists()


def test_click_token_survives_a_key_rotation(client, clicked):
    _, _, paths = clicked
    from django.conf import settings

    with override_settings(SECRET_KEY="new-key-" * 8, SECRET_KEY_FALLBACKS=[settings.SECRET_KEY]):
        assert client.get(paths[0]).status_code == 302


def test_head_requests_are_answered_but_not_recorded(client, clicked):
    message, _, paths = clicked
    assert client.head(paths[0]).status_code == 302
    assert client.head(f"/t/o/{tokens.open_token(message.pk)}.gif").status_code == 200
    assert not TrackingEvent.objects.exists()


# --- deleted emails ------------------------------------------------------------------------


def delete_from_timeline(client, owner, contact, message):
    client.force_login(owner)
    response = client.post(f"/records/contacts/{contact.pk}/email/{message.pk}/delete/")
    assert response.status_code == 302
    client.logout()  # the recipient who clicks is nobody the CRM knows


def assert_gone(response):
    assert response.status_code == 410
    assert "Location" not in response
    assert "no-store" in response["Cache-Control"]


def test_a_deleted_emails_links_stop_redirecting(client, owner, contact):
    message = make_message([contact], owner=owner)
    html = tracked_links.instrument(HTML, message)
    paths = [path_of(h) for h in hrefs(html) if h.startswith(f"{BASE}/t/c/")]
    assert client.get(paths[0]).status_code == 302
    delete_from_timeline(client, owner, contact, message)

    for path in paths:
        response = client.get(path)
        assert_gone(response)
        assert b"This link is no longer available" in response.content
    assert_gone(client.head(paths[0]))
    assert not TrackingEvent.objects.exists()  # the click before went with the email
    assert revocation.DeletedTrackedEmail.objects.filter(pk=message.pk).exists()


@pytest.mark.integration
def test_buffered_click_of_a_deleted_email_is_410_without_a_database_query(
    client,
    owner,
    contact,
    redis_buffer,
    django_assert_num_queries,
    django_capture_on_commit_callbacks,
):
    message = make_message([contact], owner=owner)
    kept = make_message([contact], owner=owner, subject="Kept")
    link = TrackedLink.objects.create(message=message, position=0, url="https://a.example/")
    other = TrackedLink.objects.create(message=kept, position=0, url="https://b.example/")
    TrackingRollup.objects.create(message=message)
    TrackingRollup.objects.create(message=kept)
    path = f"/t/c/{tokens.click_token(message.pk, link.pk, link.url)}"
    kept_path = f"/t/c/{tokens.click_token(kept.pk, other.pk, other.url)}"
    with django_capture_on_commit_callbacks(execute=True):
        delete_from_timeline(client, owner, contact, message)

    with django_assert_num_queries(0):
        assert_gone(client.get(path))
        assert client.get(kept_path).status_code == 302
    members = buffer.redis_client().smembers(revocation.deleted_key())
    assert str(message.pk).encode() in members and str(kept.pk).encode() not in members

    # Redis lost the set (restarted without its data): rebuilt from the table, still 410.
    buffer.redis_client().delete(revocation.deleted_key())
    revocation.refresh()
    assert_gone(client.get(path))
    assert str(message.pk).encode() in buffer.redis_client().smembers(revocation.deleted_key())


@pytest.mark.integration
@pytest.mark.django_db
def test_tracking_flush_puts_back_a_deleted_email_the_redis_set_lost(redis_buffer):
    message = make_message()
    TrackingRollup.objects.create(message=message)
    deleted = message.pk
    message.delete()
    client, key = buffer.redis_client(), revocation.deleted_key()
    client.srem(key, deleted)  # lost in a way nobody saw (or never added: no commit here)
    assert revocation.verify() is True
    assert str(deleted).encode() in client.smembers(key)
    assert revocation.verify() is False


# --- the open pixel -----------------------------------------------------------------------


def assert_pixel(response):
    assert response.status_code == 200
    assert response["Content-Type"] == "image/gif"
    assert response.content == views.PIXEL and len(response.content) == 43
    assert "no-store" in response["Cache-Control"]


@pytest.mark.django_db
def test_pixel_answers_the_gif_for_any_token_and_records_only_valid_ones(client):
    message = make_message()
    token = tokens.open_token(message.pk)
    assert_pixel(client.get(f"/t/o/{token}.gif", HTTP_USER_AGENT=SAFARI))
    assert TrackingEvent.objects.filter(message=message, kind=TrackingKind.OPEN).count() == 1

    forged_click = tokens.click_token(message.pk, 1, "https://a.example/")
    for bad in ("nonsense", token[:-2] + "AA", forged_click, "A" * 30, tokens.open_token(10**9)):
        assert_pixel(client.get(f"/t/o/{bad}.gif", HTTP_USER_AGENT=SAFARI))
    # The unknown message id verifies but names no email: dropped when written.
    assert TrackingEvent.objects.count() == 1


@pytest.mark.django_db
def test_endpoints_never_touch_the_user_or_session():
    """Called without the auth and session middleware, the views still work: they read
    neither `request.user` nor `request.session`."""
    message = make_message()
    link = TrackedLink.objects.create(message=message, position=0, url="https://a.example/")
    factory = RequestFactory()
    request = factory.get("/t/o/x.gif")
    assert not hasattr(request, "user") and not hasattr(request, "session")
    assert views.open_pixel(request, tokens.open_token(message.pk)).status_code == 200
    request = factory.get("/t/c/x")
    token = tokens.click_token(message.pk, link.pk, link.url)
    assert views.click(request, token).status_code == 302
    assert TrackingEvent.objects.count() == 2


@pytest.mark.integration
@pytest.mark.django_db
def test_buffered_endpoints_make_no_database_query(client, redis_buffer, django_assert_num_queries):
    message = make_message()
    link = TrackedLink.objects.create(message=message, position=0, url="https://a.example/")

    with django_assert_num_queries(0):
        assert_pixel(client.get(f"/t/o/{tokens.open_token(message.pk)}.gif"))
        click = client.get(f"/t/c/{tokens.click_token(message.pk, link.pk, link.url)}")
        assert click.status_code == 302

    assert not TrackingEvent.objects.exists()  # waiting in the buffer
    events.push_buffered()  # (the push thread may have sent them already)
    assert events.flush_events() == 2
    stored = TrackingEvent.objects.order_by("kind").values_list("kind", "message_id", "link_id")
    assert list(stored) == [
        (TrackingKind.CLICK, message.pk, link.pk),
        (TrackingKind.OPEN, message.pk, None),
    ]


@pytest.mark.integration
@pytest.mark.django_db
def test_a_signed_in_browser_loading_the_pixel_costs_no_session_lookup(
    client, owner, redis_buffer, django_assert_num_queries
):
    # A rep reading the email in a webmail open in the same browser as the CRM sends the
    # session cookie along: it must not be looked up, nor make the answer vary by cookie.
    message = make_message()
    client.force_login(owner)
    with django_assert_num_queries(0):
        response = client.get(f"/t/o/{tokens.open_token(message.pk)}.gif")
    assert_pixel(response)
    assert "Cookie" not in response.get("Vary", "")
    events.push_buffered()
    assert events.flush_events() == 1


# --- classification -----------------------------------------------------------------------

SENT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LATER = SENT + timedelta(hours=2)


def hit(kind="open", ua=SAFARI, ip="198.51.100.7", at=LATER, link=None, reason="", pk=None):
    return Hit(kind, 1, at, link, ip, ua, reason, pk=pk)


@pytest.mark.parametrize(
    ("case", "event", "reason"),
    [
        ("Apple MPP: bare user agent", hit(ua="Mozilla/5.0", ip="172.224.1.2"), "privacy_proxy"),
        ("Apple MPP: Apple's network", hit(ip="17.58.63.1"), "privacy_proxy"),
        (
            "Gmail image proxy",
            hit(
                ua="Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 "
                "(via ggpht.com GoogleImageProxy)",
                ip="66.249.84.1",
            ),
            "privacy_proxy",
        ),
        (
            "Yahoo image proxy",
            hit(ua="YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html"),
            "privacy_proxy",
        ),  # noqa: E501
        ("Proofpoint", hit("click", ua="Mozilla/5.0 ppops-7d1f", link=1), "security_scanner"),
        ("Mimecast", hit("click", ua="Mimecast URL Protect", link=1), "security_scanner"),
        ("Barracuda", hit("click", ua="Barracuda Sentinel (EE)", link=1), "security_scanner"),
        ("Safe Links check", hit("click", ua=OUTLOOK_DESKTOP, link=1), "security_scanner"),
        ("Outlook desktop open", hit(ua=OUTLOOK_DESKTOP), "human"),
        ("python-requests", hit("click", ua="python-requests/2.32.3", link=1), "security_scanner"),
        ("curl", hit(ua="curl/8.5.0"), "security_scanner"),
        ("no user agent", hit(ua=""), "security_scanner"),
        ("a crawler", hit(ua="Mozilla/5.0 (compatible; bingbot/2.0)"), "security_scanner"),
        ("chat link preview", hit("click", ua="Slackbot-LinkExpanding 1.0", link=1), "prefetch"),
        ("open seconds after sending", hit(at=SENT + timedelta(seconds=3)), "prefetch"),
        (
            "click seconds after sending",
            hit("click", at=SENT + timedelta(seconds=9), link=1),
            "prefetch",
        ),
        ("a person, an hour later", hit(at=SENT + timedelta(hours=1)), "human"),
        ("a person's click in a browser", hit("click", ua=CHROME, link=1), "human"),
    ],
    ids=lambda v: v if isinstance(v, str) and " " in v else "",
)
def test_classify(case, event, reason):
    assert classify(event, SENT, []).reason == reason


def test_classify_every_link_clicked_at_once_is_a_scanner_and_remarks_the_burst():
    first = hit("click", ua=CHROME, link=1, reason="human", pk=11)
    second = hit("click", ua=CHROME, link=2, at=LATER + timedelta(seconds=1))
    verdict = classify(second, SENT, [first])
    assert verdict.reason == "security_scanner" and "2 links" in verdict.detail
    assert verdict.remark == (first,)


@pytest.mark.parametrize(
    ("case", "earlier"),
    [
        ("the same link twice", hit("click", ua=CHROME, link=2, reason="human")),
        ("another address", hit("click", ua=CHROME, link=1, ip="203.0.113.9", reason="human")),
        ("a minute apart", hit("click", ua=CHROME, link=1, at=LATER - timedelta(minutes=1))),
    ],
)
def test_classify_clicks_that_are_no_burst_are_a_persons(case, earlier):
    second = hit("click", ua=CHROME, link=2, at=LATER + timedelta(seconds=1))
    verdict = classify(second, SENT, [earlier])
    assert verdict.reason == "human" and verdict.remark == ()


def test_classify_click_before_any_open_from_no_browser_is_a_scanner():
    app = hit("click", ua="Outlook-iOS/709.2226530.prod.iphone (4.2.1)", link=1)
    assert classify(app, SENT, []).reason == "security_scanner"
    assert classify(app, SENT, [hit(reason="human", at=LATER - timedelta(minutes=5))]).reason == (
        "human"
    )
    assert classify(app, SENT, [], opened=True).reason == "human"
    assert classify(hit("click", ua=CHROME, link=1), SENT, []).reason == "human"


# --- writing events and rollups -----------------------------------------------------------


def store(message, *hits):
    with transaction.atomic():
        return events.write_events(
            [Hit(h.kind, message.pk, h.at, h.link_id, h.ip, h.user_agent) for h in hits]
        )


@pytest.mark.django_db
def test_rollup_counts_people_apart_from_proxies_and_scanners():
    message = make_message(sent_at=SENT)
    first_open, last_open = LATER, LATER + timedelta(hours=3)
    store(
        message,
        hit(at=first_open),
        hit(at=last_open, ua=CHROME, ip="203.0.113.4"),
        hit(ua="Mozilla/5.0"),  # Apple MPP
        hit(at=SENT + timedelta(seconds=2)),  # on delivery
        hit("click", ua=CHROME, link=None, at=LATER + timedelta(minutes=1)),
        hit("click", ua="python-requests/2.31", link=None),
    )
    rollup = TrackingRollup.objects.get(message=message)
    assert (rollup.human_opens, rollup.human_clicks) == (2, 1)
    assert (rollup.other_opens, rollup.other_clicks) == (2, 1)
    assert (rollup.first_human_open_at, rollup.last_human_open_at) == (first_open, last_open)
    reasons = sorted(TrackingEvent.objects.filter(message=message).values_list("reason", flat=True))
    assert reasons == sorted(["human"] * 3 + ["privacy_proxy", "prefetch", "security_scanner"])


@pytest.mark.django_db
def test_burst_across_batches_moves_the_first_click_out_of_the_human_count():
    message = make_message(sent_at=SENT)
    links = [
        TrackedLink.objects.create(message=message, position=i, url=u)
        for i, u in enumerate(TRACKED)
    ]
    store(message, hit("click", ua=CHROME, link=links[0].pk))
    assert TrackingRollup.objects.get(message=message).human_clicks == 1
    store(
        message,
        hit("click", ua=CHROME, link=links[1].pk, at=LATER + timedelta(milliseconds=400)),
        hit("click", ua=CHROME, link=links[2].pk, at=LATER + timedelta(milliseconds=700)),
    )
    rollup = TrackingRollup.objects.get(message=message)
    assert (rollup.human_clicks, rollup.other_clicks) == (0, 3)
    assert set(TrackingEvent.objects.values_list("reason", flat=True)) == {"security_scanner"}


@pytest.mark.django_db
def test_hits_for_deleted_messages_are_dropped():
    message = make_message()
    with transaction.atomic():
        assert events.write_events([Hit("open", message.pk + 1000, LATER)]) == 0
    assert not TrackingEvent.objects.exists()


@pytest.mark.django_db
def test_a_scanner_click_changes_nothing_but_its_event(client, contact):
    """No unsubscribe, no state on the email: only the event and the rollup move."""
    message = make_message([contact])
    html = tracked_links.instrument(HTML, message)
    before = {
        "message": EmailMessage.objects.filter(pk=message.pk).values().get(),
        "links": list(TrackedLink.objects.values()),
    }
    for href in hrefs(html):
        if href.startswith(f"{BASE}/t/c/"):
            client.get(path_of(href), HTTP_USER_AGENT="Mozilla/5.0 ppops-7d1f")
    assert EmailMessage.objects.filter(pk=message.pk).values().get() == before["message"]
    assert list(TrackedLink.objects.values()) == before["links"]
    assert TrackingRollup.objects.get(message=message).other_clicks == len(TRACKED)
    assert f"{BASE}/preferences/TOKEN/" in hrefs(html)


# --- the Redis buffer ---------------------------------------------------------------------


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_buffered_hits_are_flushed_once(redis_buffer):
    message = make_message()
    for _ in range(3):
        events.record_event(TrackingKind.OPEN, message.pk, ip="198.51.100.7", user_agent=SAFARI)
    events.record_event(
        TrackingKind.OPEN, message.pk, ip="not an address", user_agent="Mozilla/5.0"
    )
    events.push_buffered()  # (the push thread may have sent some already)
    # A line nobody can read is skipped, not retried by every later flush.
    buffer.redis_client().xadd(redis_buffer, {"h": "garbage\no\tnot-a-number"})
    assert not TrackingEvent.objects.exists()
    assert events.flush_events() == 4
    assert events.flush_events() == 0
    rollup = TrackingRollup.objects.get(message=message)
    assert (rollup.human_opens, rollup.other_opens) == (3, 1)
    assert TrackingEvent.objects.filter(ip=None).count() == 1


# --- the timeline -------------------------------------------------------------------------


@pytest.mark.django_db
def test_timeline_shows_human_opens_clicks_and_replies_apart_from_the_rest(client, owner, contact):
    message = make_message([contact], sent_at=SENT, owner=owner)
    tracked_links.instrument(HTML, message)
    link = TrackedLink.objects.filter(message=message).first()
    store(
        message,
        hit(at=LATER),
        hit(at=LATER + timedelta(hours=1)),
        hit("click", ua=CHROME, link=link.pk, at=LATER + timedelta(hours=1, minutes=1)),
        hit(ua="Mozilla/5.0"),
        hit(at=SENT + timedelta(seconds=1)),
        hit("click", ua="Barracuda Sentinel", link=link.pk),
    )
    for auto_reply, when in ((False, LATER), (True, LATER), (False, SENT - timedelta(days=1))):
        EmailMessage.objects.create(
            thread=message.thread,
            direction=Direction.INCOMING,
            from_addr="olivia@acme.example",
            sent_at=when,
            is_auto_reply=auto_reply,
        )
    # What sync does after logging a page of mail.
    replies.refresh_reply_counts({message.thread_id})
    client.force_login(owner)
    html = client.get(f"/records/contacts/{contact.pk}/").content.decode()
    assert "Opened 2×" in html
    assert "Clicked 1×" in html
    assert "1 reply" in html
    assert "plus 3 by privacy proxies/scanners" in html


@pytest.mark.django_db
def test_timeline_query_count_depends_on_neither_events_nor_emails(client, owner, contact):
    message = make_message([contact], sent_at=SENT, owner=owner)
    tracked_links.instrument(HTML, message)
    client.force_login(owner)
    url = f"/records/contacts/{contact.pk}/"

    def queries():
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url).status_code == 200
        return len(ctx.captured_queries)

    store(message, hit(at=LATER))
    few = queries()
    store(message, *[hit(at=LATER + timedelta(minutes=i)) for i in range(1, 60)])
    assert queries() == few
    assert "Opened 60×" in client.get(url).content.decode()
    for i in range(3):
        more = make_message([contact], sent_at=SENT, owner=owner, subject=f"Follow-up {i}")
        tracked_links.instrument(HTML, more)
        store(more, hit(at=LATER), hit("click", ua=CHROME, at=LATER))
    assert queries() == few


@pytest.mark.django_db
def test_untracked_email_shows_no_opens(client, owner, contact):
    make_message([contact], sent_at=SENT, owner=owner)
    client.force_login(owner)
    html = client.get(f"/records/contacts/{contact.pk}/").content.decode()
    assert "Email sent" in html and "Not opened" not in html and "Opened" not in html
