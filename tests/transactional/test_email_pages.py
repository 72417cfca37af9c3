"""Transactional emails as a person uses them (Django's test client): written with contact
and custom tokens (an unknown token refused, what was typed kept), published for the API
(its email ID and a curl example shown), sent to chosen contacts after a review that says
who is refused and why, now or scheduled; a View-only seat only looks."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from mailboxes.constants import SendStatus
from mailboxes.models import BouncedAddress, Outbound
from records.constants import Seat
from tests.factories import ContactFactory, UserFactory
from tests.transactional.pool import FROM
from transactional.emails.models import EmailState, TransactionalEmail
from transactional.pool.models import SendingPool

pytestmark = pytest.mark.django_db
BODY = '<p>Hi {{ contact.first_name | default:"there" }}, your account is ready.</p>'


@pytest.fixture
def pool():
    pool = SendingPool.load()
    pool.enabled, pool.host, pool.from_address, pool.from_name = True, "127.0.0.1", FROM, "Shop"
    pool.save()
    return pool


@pytest.fixture
def rep(client, owner):
    client.force_login(owner)
    return client


def fields(**values) -> dict:
    return {
        "name": "Welcome",
        "subject": "Welcome, {{ contact.first_name }}",
        "body": BODY,
        "from_name": "",
        "from_address": "",
        "reply_to": "",
        **values,
    }


def test_an_unknown_token_or_a_foreign_from_is_refused_and_what_was_typed_stays(rep, pool):
    page = rep.post(
        reverse("transactional:email-create"),
        fields(body="<p>{{ contact.shoe_size }} {{ deal.name }}</p>", from_address="a@other.test"),
    )
    assert page.status_code == 200
    text = page.content.decode()
    assert "Unknown token: {{ contact.shoe_size }}, {{ deal.name }}" in text
    assert "shop.test" in text and "a@other.test" in text
    assert not TransactionalEmail.objects.exists()


def test_created_as_a_draft_then_published_with_its_id_and_a_curl_example(rep, pool, owner):
    page = rep.post(reverse("transactional:email-create"), fields(), follow=True)
    email = TransactionalEmail.objects.get()
    assert email.state == EmailState.DRAFT and email.created_by == owner
    assert "Publish for the API" in page.content.decode()
    page = rep.post(reverse("transactional:email-publish", args=[email.pk]), follow=True)
    email.refresh_from_db()
    assert email.state == EmailState.PUBLISHED and email.published_at
    html = page.content.decode()
    assert f'<strong id="email-id">{email.pk}</strong>' in html
    assert "/marketing/v3/transactional/single-email/send" in html
    assert f"&quot;emailId&quot;: {email.pk}" in html
    listing = rep.get(reverse("transactional:emails")).content.decode()
    assert "Welcome" in listing and "Published" in listing


def test_the_review_says_who_is_refused_and_why_then_sends_to_the_rest(rep, pool, owner):
    email = TransactionalEmail.objects.create(**fields())
    ContactFactory(owner=owner, first_name="Ada", emails=["ada@client.test"])
    ContactFactory(owner=owner, first_name="Bo", emails=["bo@client.test"])
    BouncedAddress.objects.create(address="bo@client.test")
    url = reverse("transactional:email-send", args=[email.pk])
    chosen = {"addresses": "ada@client.test, bo@client.test stranger@client.test", "when": "now"}
    page = rep.post(url, chosen).content.decode()
    assert "Welcome, Ada" in page
    assert "bounced hard before" in page
    assert "No contact you can see has this address." in page
    assert "Send to 1 contact" in page
    assert not Outbound.objects.exists()  # the review sends nothing

    rep.post(url, {**chosen, "confirm": "1"})
    (outbound,) = Outbound.objects.select_related("message")
    assert outbound.recipients == ["ada@client.test"] and outbound.mailbox_id is None
    assert outbound.source == "transactional" and outbound.status == SendStatus.QUEUED
    assert outbound.message.subject == "Welcome, Ada"


def test_scheduled_it_waits_until_then(rep, pool, owner):
    email = TransactionalEmail.objects.create(**fields())
    ContactFactory(owner=owner, first_name="Ada", emails=["ada@client.test"])
    at = (timezone.localtime() + timedelta(days=1)).replace(second=0, microsecond=0)
    url = reverse("transactional:email-send", args=[email.pk])
    chosen = {
        "addresses": "ada@client.test",
        "when": "later",
        "send_at": at.strftime("%Y-%m-%dT%H:%M"),
        "confirm": "1",
    }
    rep.post(url, chosen)
    (outbound,) = Outbound.objects.all()
    assert outbound.status == SendStatus.SCHEDULED and outbound.scheduled_at == at


def test_an_email_with_custom_tokens_goes_only_through_the_api(rep, pool, owner):
    email = TransactionalEmail.objects.create(**fields(subject="Order {{ custom.order_id }}"))
    ContactFactory(owner=owner, emails=["ada@client.test"])
    url = reverse("transactional:email-send", args=[email.pk])
    page = rep.post(url, {"addresses": "ada@client.test", "when": "now"}).content.decode()
    assert "which only the API fills" in page
    assert "Nobody can be sent this email" in page


def test_no_recipients_is_a_clear_error(rep, pool):
    email = TransactionalEmail.objects.create(**fields())
    url = reverse("transactional:email-send", args=[email.pk])
    page = rep.post(url, {"addresses": "", "when": "now"}).content.decode()
    assert "Choose the contacts: type addresses or pick a list." in page


def test_a_view_only_seat_looks_but_changes_nothing(client, pool):
    viewer = UserFactory(username="viewer", seat=Seat.VIEW_ONLY)
    client.force_login(viewer)
    email = TransactionalEmail.objects.create(**fields())
    assert client.get(reverse("transactional:emails")).status_code == 200
    assert client.get(reverse("transactional:email-create")).status_code == 403
    assert client.post(reverse("transactional:email-publish", args=[email.pk])).status_code == 403
    assert client.get(reverse("transactional:email-send", args=[email.pk])).status_code == 403
    assert (
        client.post(reverse("transactional:email", args=[email.pk]), fields(name="X")).status_code
        == 403
    )


def test_the_review_shows_the_body_each_recipient_gets_in_a_frame_where_no_script_runs(
    rep, pool, owner, admin_user
):
    email = TransactionalEmail.objects.create(**fields())
    ada = ContactFactory(owner=owner, first_name="Ada", emails=["ada@client.test"])
    zed = ContactFactory(
        owner=owner, first_name="<img src=x onerror=alert(1)>Zed", emails=["zed@client.test"]
    )
    hidden = ContactFactory(owner=admin_user, first_name="Hidden", emails=["hid@client.test"])
    url = reverse("transactional:email-send", args=[email.pk])
    page = rep.post(url, {"addresses": "ada@client.test zed@client.test", "when": "now"})
    html = page.content.decode()
    first = reverse("transactional:email-preview", args=[email.pk, ada.pk])
    # The first recipient's body in the timeline's sandboxed frame, the others' a link away.
    assert (
        '<iframe class="email-frame preview-frame" name="email-preview" '
        f'sandbox="allow-popups allow-popups-to-escape-sandbox" src="{first}"'
    ) in html
    assert 'id="preview-who">Ada' in html
    other = reverse("transactional:email-preview", args=[email.pk, zed.pk])
    assert f'href="{other}" target="email-preview"' in html

    body = rep.get(first)
    assert body.status_code == 200
    assert "<p>Hi Ada, your account is ready.</p>" in body.content.decode()
    csp = body["Content-Security-Policy"]
    assert csp.startswith("default-src 'none'") and "script-src" not in csp
    assert body["X-Frame-Options"] == "SAMEORIGIN" and body["Referrer-Policy"] == "no-referrer"
    # A contact's value is text in the body, never markup.
    zed_body = rep.get(other).content.decode()
    assert "onerror" not in zed_body.replace("&lt;img src=x onerror=alert(1)&gt;", "")
    assert "Zed, your account is ready." in zed_body
    # A contact outside the rep's access (owner sees only their own records): not previewed.
    hidden_url = reverse("transactional:email-preview", args=[email.pk, hidden.pk])
    assert rep.get(hidden_url).status_code == 404
