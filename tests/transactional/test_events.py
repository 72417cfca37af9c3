"""The status history of transactional email, fed the real ways: queued through the enqueue
service, sent by the pool to an aiosmtpd sink standing in for the relay, opened and clicked
through the tracking endpoints, bounced and complained about through delivery reports; read
through the API with a key, paged, by message id or by a single send's statusId. And TRX-6:
opted out still gets transactional mail, a hard-bounced address never does."""

from __future__ import annotations

import email
import re
from datetime import timedelta
from email import policy

import pytest
from django.test import override_settings
from django.utils import timezone

from mailboxes.bounces.processing import process_report
from mailboxes.constants import SendStatus
from mailboxes.models import EmailMessage, Outbound
from mailboxes.outbox.enqueue import SendRefused, email_enqueue
from privacy.constants import OptOutSource
from privacy.models import ContactOptOut
from tests.factories import ContactFactory
from tests.mailboxes.reports import arf, dsn
from tests.transactional.api import held_to_schema, post, published, request
from tests.transactional.api import key as api_key
from tests.transactional.pool import pool_for, queue, transactional
from transactional.api import process
from transactional.api.models import SingleSend
from transactional.credentials import services as credentials
from transactional.credentials.constants import Scope
from transactional.events.constants import EventType
from transactional.events.recording import history
from transactional.pool import delivery

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning"),
]
BASE = "https://crm.shop.test"
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0 Safari/537.36"
)


def tracking_paths(raw: bytes) -> tuple[str, str]:
    """The open pixel's and the first click link's paths in the email the relay received."""
    html = email.message_from_bytes(raw, policy=policy.default).get_body(("html",)).get_content()
    pixel = re.search(rf"{BASE}(/t/o/[^\"']+)", html).group(1)
    click = re.search(rf"{BASE}(/t/c/[^\"']+)", html).group(1)
    return pixel, click


@override_settings(CRM_BASE_URL=BASE, TRACKING_BUFFER="direct")
def test_a_messages_history_from_queued_to_spam_complaint(
    smtp_sink, owner, client, admin_user, django_capture_on_commit_callbacks, openapi
):
    pool_for(smtp_sink)
    contact = ContactFactory(owner=owner, emails=["ada@client.test", "ada@home.test"])
    with django_capture_on_commit_callbacks(execute=True):
        outbound = queue("ada@client.test", contacts=[contact])
    with django_capture_on_commit_callbacks(execute=True):
        assert delivery.deliver(outbound.pk) == SendStatus.SENT
    pixel, click = tracking_paths(smtp_sink.messages[0].data)
    # An hour passes (an open seconds after the send is a pre-fetcher's, not a person's).
    earlier = timezone.now() - timedelta(hours=1)
    Outbound.objects.filter(pk=outbound.pk).update(sent_at=earlier)
    EmailMessage.objects.filter(pk=outbound.message_id).update(sent_at=earlier)

    # A person opens and clicks; Apple's privacy proxy fetches the pixel too.
    with django_capture_on_commit_callbacks(execute=True):
        client.get(pixel, HTTP_USER_AGENT=CHROME, REMOTE_ADDR="203.0.113.9")
        client.get(pixel, HTTP_USER_AGENT="Mozilla/5.0", REMOTE_ADDR="17.58.0.1")
        assert (
            client.get(click, HTTP_USER_AGENT=CHROME, REMOTE_ADDR="203.0.113.9").status_code == 302
        )
    message_id = outbound.message.message_id
    with django_capture_on_commit_callbacks(execute=True):
        assert process_report(
            None, dsn(message_id, "ada@client.test", "5.1.1", "550 5.1.1 User unknown")
        ).startswith("Hard bounce")
    with django_capture_on_commit_callbacks(execute=True):
        assert process_report(None, arf(message_id, "ada@client.test")).startswith("Spam complaint")

    events = history(outbound.pk)
    assert [e["type"] for e in events] == [
        EventType.QUEUED,
        EventType.SENT,
        EventType.OPENED,
        EventType.OPENED,
        EventType.CLICKED,
        EventType.BOUNCED,
        EventType.COMPLAINED,
    ]
    opens = [e["data"] for e in events if e["type"] == EventType.OPENED]
    assert sorted((o["human"], o["reason"]) for o in opens) == [
        (False, "privacy_proxy"),
        (True, "human"),
    ]
    clicked = events[4]["data"]
    assert clicked["url"] == "https://shop.test/orders/1" and clicked["human"] is True
    assert events[5]["data"]["bounceType"] == "hard"
    assert events[5]["data"]["address"] == "ada@client.test"
    assert events[6]["data"]["feedbackType"] == "abuse"
    assert events[6]["data"]["unsubscribedContactIds"] == [contact.pk]
    # The complaint is an unsubscribe on the contact, with its source in privacy.
    assert ContactOptOut.objects.get(contact=contact).source == OptOutSource.SPAM_REPORT

    # TRX-6: transactional mail still goes to the opted-out contact...
    with django_capture_on_commit_callbacks(execute=True):
        again = queue("ada@home.test", contacts=[contact])
        assert delivery.deliver(again.pk) == SendStatus.SENT
    assert [e["type"] for e in history(again.pk)] == [EventType.QUEUED, EventType.SENT]
    # ...but never to the address that bounced hard.
    with pytest.raises(SendRefused, match="bounced hard before"):
        email_enqueue(transactional("ada@client.test", contacts=[contact]))

    # The API: a key with the read scope reads it, in order, paged, held to the document.
    key = credentials.api_key_create("dash", admin_user, scopes=[Scope.TRANSACTIONAL_EMAIL_READ])
    auth = {"HTTP_AUTHORIZATION": f"Bearer {key.api_key}"}
    url = f"/marketing/v3/transactional/messages/{outbound.pk}/events"
    answer = held_to_schema(openapi, client.get(url, {"limit": 5}, **auth))
    assert answer.status_code == 200
    body = answer.json()
    assert body["messageId"] == outbound.pk and body["status"] == SendStatus.SENT
    rest = held_to_schema(
        openapi, client.get(url, {"after": body["paging"]["next"]["after"]}, **auth)
    ).json()
    assert "paging" not in rest
    read = [{k: e[k] for k in ("type", "data")} for e in body["results"] + rest["results"]]
    assert read == [{k: e[k] for k in ("type", "data")} for e in events]
    assert body["results"][0]["occurredAt"].endswith("Z")


def test_the_history_api_refuses_a_missing_key_and_names_an_unknown_message(
    smtp_sink, client, admin_user, openapi
):
    pool_for(smtp_sink)
    outbound = queue()
    url = f"/marketing/v3/transactional/messages/{outbound.pk}/events"
    no_key = held_to_schema(openapi, client.get(url))
    assert no_key.status_code == 401 and no_key.json()["category"] == "INVALID_AUTHENTICATION"
    assert client.get(url, HTTP_AUTHORIZATION="Bearer crm_pat_nope_nope").status_code == 401
    key = credentials.api_key_create("all", admin_user, scopes=[Scope.TRANSACTIONAL_EMAIL])
    auth = {"HTTP_AUTHORIZATION": f"Bearer {key.api_key}"}
    assert client.get(url, **auth).status_code == 200  # the full scope implies reading
    missing = held_to_schema(
        openapi,
        client.get(f"/marketing/v3/transactional/messages/{outbound.pk + 1000}/events", **auth),
    )
    assert missing.status_code == 404 and missing.json()["category"] == "OBJECT_NOT_FOUND"
    assert client.post(url, **auth).status_code == 405
    # The plain view it replaced is gone, not left to drift from the document.
    assert client.get(f"/api/transactional/messages/{outbound.pk}/events", **auth).status_code == (
        404
    )
    bad = held_to_schema(openapi, client.get(url, {"limit": "many"}, **auth))
    assert bad.status_code == 400 and bad.json()["errors"][0]["in"] == "limit"


def test_a_single_sends_history_by_its_status_id(
    smtp_sink, client, openapi, django_capture_on_commit_callbacks
):
    """GET /marketing/v3/email/send-statuses/{statusId}/events: empty while the send is
    pending, then the message's history; the read scope suffices."""
    pool_for(smtp_sink)
    sender, reader = api_key(), api_key(scopes=("transactional-email.read",))
    auth = {"HTTP_AUTHORIZATION": f"Bearer {reader}"}
    status_id = post(client, sender, request(published())).json()["statusId"]
    url = f"/marketing/v3/email/send-statuses/{status_id}/events"
    pending = held_to_schema(openapi, client.get(url, **auth)).json()
    assert pending == {"statusId": status_id, "results": []}

    with django_capture_on_commit_callbacks(execute=True):
        process.process(SingleSend.objects.get().pk)
    outbound = SingleSend.objects.get().outbound
    with django_capture_on_commit_callbacks(execute=True):
        assert delivery.deliver(outbound.pk) == SendStatus.SENT
    history_ = held_to_schema(openapi, client.get(url, **auth)).json()
    assert history_["messageId"] == outbound.pk and history_["status"] == SendStatus.SENT
    assert [e["type"] for e in history_["results"]] == [EventType.QUEUED, EventType.SENT]
    first = held_to_schema(openapi, client.get(url, {"limit": 1}, **auth)).json()
    assert [e["id"] for e in first["results"]] == [history_["results"][0]["id"]]
    assert first["paging"]["next"]["after"] == history_["results"][0]["id"]

    unknown = held_to_schema(
        openapi, client.get("/marketing/v3/email/send-statuses/nope/events", **auth)
    )
    assert unknown.status_code == 404 and unknown.json()["category"] == "OBJECT_NOT_FOUND"
