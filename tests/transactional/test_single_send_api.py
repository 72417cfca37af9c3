"""The single-send HTTP API, HubSpot's shape, end to end: an API key, a published email, the
request answered PENDING and its job queued; the worker writes the contact from
contactProperties and queues the email for the sending pool, which delivers it to an aiosmtpd
sink standing in for the relay; its status polled at each step; a repeated sendId; each
refusal in HubSpot's error shape with nothing written; every answer held to the OpenAPI
document the code generates."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from mailboxes import jobs
from mailboxes.constants import SendStatus
from mailboxes.models import BouncedAddress, Outbound
from records.models import Contact
from tests.at_once import at_once
from tests.factories import ContactFactory
from tests.mailboxes.outbox import header
from tests.transactional.api import SEND, held_to_schema, key, post, published, request
from tests.transactional.pool import pool_for
from transactional.api import process
from transactional.api.models import SingleSend
from transactional.credentials import services as credentials
from transactional.pool import delivery

pytestmark = [
    pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning"),
]


def status_of(client, api_key, status_id, openapi):
    response = client.get(
        f"/marketing/v3/email/send-statuses/{status_id}", HTTP_AUTHORIZATION=f"Bearer {api_key}"
    )
    return held_to_schema(openapi, response)


@pytest.mark.django_db
@pytest.mark.integration
def test_a_send_reaches_the_relay_and_its_status_follows_the_pool(
    client, smtp_sink, queued_jobs, django_capture_on_commit_callbacks, openapi
):
    pool_for(smtp_sink)
    email = published(reply_to="help@shop.test")
    api_key = key()
    with django_capture_on_commit_callbacks(execute=True):
        response = held_to_schema(openapi, post(client, api_key, request(email)))
    assert response.status_code == 200, response.content
    answer = response.json()
    assert answer["status"] == "PENDING" and answer["sendResult"] is None
    assert answer["requestedAt"] and answer["statusId"]
    send = SingleSend.objects.get(status_id=answer["statusId"])
    assert queued_jobs.args_of(jobs.SINGLE_SEND) == [(send.pk,)]
    assert not Contact.objects.exists()  # the worker writes it

    with django_capture_on_commit_callbacks(execute=True):
        assert process.process(send.pk) == "QUEUED"
    assert process.process(send.pk) is None  # once only
    # The contact, created from contactProperties the way HubSpot does.
    contact = Contact.objects.get(emails__address="ada@client.test")
    assert (contact.first_name, contact.last_name) == ("Ada", "Lovelace")
    send.refresh_from_db()
    assert send.request == {}  # customProperties are not kept
    outbound = send.outbound
    assert queued_jobs.args_of(jobs.SEND_TRANSACTIONAL) == [(outbound.pk,)]
    assert outbound.source == "transactional" and outbound.source_id == send.credential_id
    queued = status_of(client, api_key, answer["statusId"], openapi).json()
    assert queued["status"] == "PENDING" and queued["sendResult"] == "QUEUED"

    with django_capture_on_commit_callbacks(execute=True):
        assert delivery.deliver(outbound.pk) == SendStatus.SENT
    (received,) = smtp_sink.messages
    assert received.rcpt_tos == ["ada@client.test"]
    data = received.data
    assert header(data, "Subject") == "Your order A-17"
    assert header(data, "Reply-To") == "help@shop.test"
    assert header(data, "List-Unsubscribe") is None
    assert b"Hi Ada, thanks for order A-17" in data.replace(b"=\r\n", b"")
    assert b"/t/c/" in data  # tracked

    polled = status_of(client, api_key, answer["statusId"], openapi).json()
    assert polled["status"] == "COMPLETE" and polled["sendResult"] == "SENT"
    assert polled["completedAt"] and polled["startedAt"]


@pytest.mark.django_db
def test_a_repeated_send_id_sends_nothing_twice_and_answers_the_first(client, smtp_sink, openapi):
    pool_for(smtp_sink)
    email, api_key = published(), key()
    first = post(client, api_key, request(email)).json()
    process.process(SingleSend.objects.get().pk)
    again = held_to_schema(openapi, post(client, api_key, request(email))).json()
    assert again["statusId"] == first["statusId"] and again["sendResult"] == "QUEUED"
    assert Outbound.objects.count() == 1 and SingleSend.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_one_send_id_queue_one_email(postgresql, smtp_sink):
    pool_for(smtp_sink)
    email, api_key = published(), key()
    answers = at_once(lambda: post(Client(), api_key, request(email, send_id="race-1")).json())
    assert len(answers) == 4
    assert len({a["statusId"] for a in answers}) == 1
    (send,) = SingleSend.objects.all()
    process.process(send.pk)
    assert Outbound.objects.count() == 1


@pytest.mark.django_db
def test_a_hard_bounced_address_is_answered_previously_bounced_and_not_queued(
    client, smtp_sink, openapi
):
    pool_for(smtp_sink)
    BouncedAddress.objects.create(address="gone@client.test", reason="550 no such user")
    api_key = key()
    answer = post(client, api_key, request(published(), to="gone@client.test")).json()
    assert process.process(SingleSend.objects.get().pk) == "PREVIOUSLY_BOUNCED"
    polled = status_of(client, api_key, answer["statusId"], openapi).json()
    assert polled["status"] == "COMPLETE" and polled["sendResult"] == "PREVIOUSLY_BOUNCED"
    assert polled["completedAt"] and not Outbound.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "change, sub_category, where",
    [
        (lambda e, b: b.update(emailId=e.pk + 1000), "MISSING_CONTENT", "emailId"),
        (lambda e, b: b.update(customProperties={}), "MISSING_TEMPLATE_PROPERTIES", None),
        (lambda e, b: b["message"].update(to="not-an-address"), "INVALID_TO_ADDRESS", None),
        (lambda e, b: b["message"].update(to="noreply@client.test"), "INVALID_TO_ADDRESS", None),
        (
            lambda e, b: b["message"].update({"from": "x@elsewhere.test"}),
            "INVALID_FROM_ADDRESS",
            None,
        ),
        (
            lambda e, b: b.update(contactProperties={"shoe_size": "9"}),
            "PROPERTY_DOESNT_EXIST",
            None,
        ),
        (lambda e, b: b.pop("message"), "MISSING_REQUIRED_PARAMETER", "message"),
    ],
)
def test_bad_input_is_refused_in_hubspots_shape_with_nothing_written(
    client, smtp_sink, openapi, change, sub_category, where
):
    pool_for(smtp_sink)
    email = published()
    body = request(email)
    change(email, body)
    response = held_to_schema(openapi, post(client, key(), body))
    assert response.status_code == 400
    error = response.json()
    assert error["status"] == "error" and error["category"] == "VALIDATION_ERROR"
    assert error["subCategory"] == sub_category and error["correlationId"] and error["message"]
    if where:
        assert error["errors"][0]["in"] == where
    assert not SingleSend.objects.exists() and not Outbound.objects.exists()
    assert not Contact.objects.exists()


@pytest.mark.django_db
def test_an_unpublished_email_and_malformed_json_are_refused(client, smtp_sink, openapi):
    pool_for(smtp_sink)
    draft = published(state="draft")
    response = held_to_schema(openapi, post(client, key(), request(draft)))
    assert response.status_code == 400 and response.json()["subCategory"] == "MISSING_CONTENT"
    broken = held_to_schema(openapi, post(client, key(), '{"emailId": 1, "message": '))
    assert broken.status_code == 400 and broken.json()["category"] == "VALIDATION_ERROR"
    assert not SingleSend.objects.exists() and not Outbound.objects.exists()


@pytest.mark.django_db
def test_keys_are_checked_401_and_403_in_hubspots_shape(client, smtp_sink, openapi):
    pool_for(smtp_sink)
    email = published()
    for bad in (None, "crm_pat_nothing_here"):
        response = held_to_schema(openapi, post(client, bad, request(email)))
        assert response.status_code == 401
        assert response.json()["category"] == "INVALID_AUTHENTICATION"
    issued = credentials.api_key_create("Old", None, scopes=["transactional-email"])
    credentials.credential_revoke(issued.credential, None)
    assert post(client, issued.api_key, request(email)).status_code == 401

    reader = key(scopes=("transactional-email.read",))
    refused = held_to_schema(openapi, post(client, reader, request(email)))
    assert refused.status_code == 403
    assert refused.json()["category"] == "MISSING_SCOPES"
    assert refused.json()["context"] == {"missingScopes": ["transactional-email"]}
    assert not SingleSend.objects.exists()
    # The read scope polls; an unknown statusId is a 404 in the same shape.
    missing = status_of(client, reader, "3f1c1c2e-0000-4000-8000-000000000000", openapi)
    assert missing.status_code == 404 and missing.json()["category"] == "OBJECT_NOT_FOUND"


@pytest.mark.django_db
def test_a_session_cookie_is_not_an_api_credential(client, admin_user, smtp_sink):
    """Token authentication only: a signed-in browser without a key is refused, so no
    cross-site form can send through the API (no CSRF token is asked for)."""
    pool_for(smtp_sink)
    client.force_login(admin_user)
    assert post(client, None, request(published())).status_code == 401


@pytest.mark.django_db
def test_an_existing_contact_is_updated_not_duplicated(client, owner, smtp_sink):
    pool_for(smtp_sink)
    ContactFactory(owner=owner, emails=["ada@client.test"], first_name="A")
    assert post(client, key(), request(published())).status_code == 200
    process.process(SingleSend.objects.get().pk)
    contact = Contact.objects.get()
    assert contact.first_name == "Ada" and contact.owner_id == owner.pk


@pytest.mark.django_db
def test_the_openapi_document_and_its_docs_page_are_served_under_the_csp(client):
    document = client.get("/marketing/openapi.json").json()
    assert SEND in document["paths"]
    assert "/marketing/v3/email/send-statuses/{statusId}" in document["paths"]
    page = client.get("/marketing/docs")
    assert page.status_code == 200
    html = page.content.decode()
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in html
    assert "cdn" not in html.lower()
    assert "script-src 'self'" in page["Content-Security-Policy"]
    settings_block = html.split('id="swagger-settings" type="application/json">')[1]
    json.loads(settings_block.split("</script>")[0])


@pytest.mark.django_db
def test_a_request_whose_job_was_lost_is_taken_by_the_pass(client, smtp_sink):
    pool_for(smtp_sink)
    post(client, key(), request(published()))
    send = SingleSend.objects.get()
    assert process.process_due() == 0  # not lost yet: its job may still come
    SingleSend.objects.filter(pk=send.pk).update(
        requested_at=send.requested_at - process.LOST_AFTER
    )
    assert process.process_due() == 1
    assert Outbound.objects.count() == 1


@pytest.mark.django_db
def test_with_the_add_on_off_the_send_is_complete_as_email_disabled(client, smtp_sink):
    pool_for(smtp_sink, enabled=False)
    post(client, key(), request(published()))
    assert process.process(SingleSend.objects.get().pk) == "EMAIL_DISABLED"
    assert not Outbound.objects.exists()
