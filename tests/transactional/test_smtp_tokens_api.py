"""HubSpot's SMTP API tokens over HTTP, end to end with real API keys: create (201, the
password once), list with paging and filters, read, reset (the old password refused at once),
delete (204, refused from then on), each answer held to the OpenAPI document; the same at the
date-versioned path; the read-only scope reads but changes nothing; a token made through the
API expires after 12 months, then it is refused and hidden as a deleted one; the history lines
are the settings page's."""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.utils import timezone

from tests.transactional.api import held_to_schema, key
from transactional.credentials.auth import authenticate_api_key, verify_smtp
from transactional.credentials.constants import CredentialKind, EventKind
from transactional.credentials.models import Credential, CredentialEvent

pytestmark = pytest.mark.django_db

V3 = "/marketing/v3/transactional/smtp-tokens"
DATED = "/marketing/transactional/2026-03/smtp-tokens"
VIEW_FIELDS = {"id", "createdAt", "createdBy", "campaignName", "emailCampaignId", "createContact"}


def call(client, openapi, method, path, api_key, body=None, **query):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {api_key}"} if api_key else {}
    if method == "get":
        response = client.get(path, query, **headers)
    else:
        data = json.dumps(body) if body is not None else ""
        response = getattr(client, method)(
            path, data=data, content_type="application/json", **headers
        )
    return held_to_schema(openapi, response)


def create(client, openapi, api_key, campaign="Receipts", base=V3, contacts=True):
    body = {"campaignName": campaign, "createContact": contacts}
    return call(client, openapi, "post", base, api_key, body)


@pytest.mark.parametrize("base", [V3, DATED])
def test_create_read_reset_delete_end_to_end(client, openapi, admin_user, base):
    api_key = key(maker=admin_user)
    made = create(client, openapi, api_key, base=base)
    assert made.status_code == 201, made.content
    token = made.json()
    assert set(token) == VIEW_FIELDS | {"password"}
    assert token["createdBy"] == admin_user.email
    assert (token["campaignName"], token["createContact"]) == ("Receipts", True)
    # The id is the SMTP username: the token logs in with it and the password.
    credential = verify_smtp(token["id"], token["password"])
    assert credential is not None and token["emailCampaignId"] == str(credential.pk)
    assert credential.kind == CredentialKind.SMTP_TOKEN and credential.create_contacts
    # Made through the API: it expires 12 months after.
    lifetime = credential.expires_at - credential.created_at
    assert timedelta(days=364) < lifetime <= timedelta(days=366)

    listed = call(client, openapi, "get", base, api_key).json()
    assert listed["results"] == [{k: token[k] for k in VIEW_FIELDS}]  # no password
    assert "paging" not in listed
    one = call(client, openapi, "get", f"{base}/{token['id']}", api_key)
    assert one.status_code == 200 and one.json() == {k: token[k] for k in VIEW_FIELDS}

    reset = call(client, openapi, "post", f"{base}/{token['id']}/password-reset", api_key)
    assert reset.status_code == 200
    renewed = reset.json()
    assert renewed["password"] != token["password"]
    assert {k: renewed[k] for k in VIEW_FIELDS} == {k: token[k] for k in VIEW_FIELDS}
    assert verify_smtp(token["id"], token["password"]) is None  # at once
    assert verify_smtp(token["id"], renewed["password"]) is not None

    gone = call(client, openapi, "delete", f"{base}/{token['id']}", api_key)
    assert gone.status_code == 204 and gone.content == b""
    assert verify_smtp(token["id"], renewed["password"]) is None
    again = call(client, openapi, "get", f"{base}/{token['id']}", api_key)
    assert again.status_code == 404 and again.json()["category"] == "OBJECT_NOT_FOUND"
    assert call(client, openapi, "get", base, api_key).json()["results"] == []
    # The history the settings page shows, with the key's maker as the actor.
    history = CredentialEvent.objects.filter(credential=credential).order_by("at", "pk")
    assert [(e.kind, e.actor_id) for e in history] == [
        (EventKind.CREATED, admin_user.pk),
        (EventKind.PASSWORD_RESET, admin_user.pk),
        (EventKind.DELETED, admin_user.pk),
    ]


def test_paging_with_after_and_limit_and_the_campaign_filters(client, openapi):
    api_key = key()
    ids = [create(client, openapi, api_key, campaign=c).json()["id"] for c in "ABAAB"]
    first = call(client, openapi, "get", V3, api_key, limit=2).json()
    assert [t["id"] for t in first["results"]] == ids[:2]
    after, link = first["paging"]["next"]["after"], first["paging"]["next"]["link"]
    second = call(client, openapi, "get", V3, api_key, limit=2, after=after).json()
    assert [t["id"] for t in second["results"]] == ids[2:4]
    # The link is the next page's whole URL.
    parts = urlsplit(second["paging"]["next"]["link"])
    followed = call(client, openapi, "get", f"{parts.path}?{parts.query}", api_key).json()
    assert [t["id"] for t in followed["results"]] == ids[4:] and "paging" not in followed
    assert urlsplit(link).path == V3

    only_a = call(client, openapi, "get", V3, api_key, campaignName="A").json()
    assert [t["id"] for t in only_a["results"]] == [ids[0], ids[2], ids[3]]
    campaign = only_a["results"][1]["emailCampaignId"]
    by_id = call(client, openapi, "get", V3, api_key, emailCampaignId=campaign).json()
    assert [t["id"] for t in by_id["results"]] == [ids[2]]
    none = call(client, openapi, "get", V3, api_key, emailCampaignId="not-one").json()
    assert none["results"] == []

    for bad in ({"limit": 0}, {"limit": 101}, {"after": "xyz"}):
        refused = call(client, openapi, "get", V3, api_key, **bad)
        assert refused.status_code == 400, bad
        error = refused.json()
        assert error["category"] == "VALIDATION_ERROR" and error["errors"][0]["in"] == next(
            iter(bad)
        )


def test_the_read_scope_lists_and_reads_but_changes_nothing(client, openapi, admin_user):
    token = create(client, openapi, key()).json()
    reader = key(scopes=("transactional-email.read",))
    assert call(client, openapi, "get", V3, reader).json()["results"][0]["id"] == token["id"]
    assert call(client, openapi, "get", f"{V3}/{token['id']}", reader).status_code == 200
    for method, path in (
        ("post", V3),
        ("post", f"{V3}/{token['id']}/password-reset"),
        ("delete", f"{V3}/{token['id']}"),
        ("post", f"{DATED}/{token['id']}/password-reset"),
    ):
        body = {"campaignName": "X", "createContact": False} if path == V3 else None
        refused = call(client, openapi, method, path, reader, body)
        assert refused.status_code == 403, path
        assert refused.json()["context"] == {"missingScopes": ["transactional-email"]}
    # Nothing changed: one token, its password still the same.
    assert Credential.objects.filter(kind=CredentialKind.SMTP_TOKEN).count() == 1
    assert verify_smtp(token["id"], token["password"]) is not None
    assert (
        CredentialEvent.objects.exclude(kind=EventKind.CREATED)
        .filter(credential__kind=CredentialKind.SMTP_TOKEN)
        .count()
        == 0
    )


def test_no_key_a_bad_body_and_an_unknown_token_are_refused_in_hubspots_shape(client, openapi):
    assert call(client, openapi, "get", V3, None).status_code == 401
    assert call(client, openapi, "post", V3, "crm_pat_bad_bad", {}).status_code == 401
    api_key = key()
    for body, sub in (
        ({"campaignName": "Receipts"}, "MISSING_REQUIRED_PARAMETER"),
        ({"campaignName": "", "createContact": True}, "VALIDATION_FAILED"),
        ({"campaignName": "x" * 101, "createContact": True}, "VALIDATION_FAILED"),
    ):
        refused = call(client, openapi, "post", V3, api_key, body)
        assert refused.status_code == 400 and refused.json()["subCategory"] == sub, body
    for method, path in (
        ("get", f"{V3}/nosuchtoken"),
        ("post", f"{V3}/nosuchtoken/password-reset"),
        ("delete", f"{V3}/nosuchtoken"),
    ):
        missing = call(client, openapi, method, path, api_key)
        assert missing.status_code == 404 and missing.json()["category"] == "OBJECT_NOT_FOUND"
    assert not Credential.objects.filter(kind=CredentialKind.SMTP_TOKEN).exists()


def test_an_api_key_is_not_an_smtp_token(client, openapi):
    """The tokens API never shows or changes API keys, which share the table."""
    api_key = key()
    credential = authenticate_api_key(f"Bearer {api_key}")
    missing = call(client, openapi, "get", f"{V3}/{credential.lookup_id}", api_key)
    assert missing.status_code == 404
    assert call(client, openapi, "get", V3, api_key).json()["results"] == []


def test_an_expired_token_is_refused_and_hidden_and_the_settings_page_shows_expiry(
    client, openapi, admin_client
):
    api_key = key()
    token = create(client, openapi, api_key, campaign="Old").json()
    kept = create(client, openapi, api_key, campaign="Current").json()
    page = admin_client.get("/settings/email/smtp-api/").content.decode()
    expires = Credential.objects.get(lookup_id=kept["id"]).expires_at
    assert f"Expires {expires:%-d %b %Y}" in page
    # A year passes for the first one.
    Credential.objects.filter(lookup_id=token["id"]).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert verify_smtp(token["id"], token["password"]) is None
    assert call(client, openapi, "get", f"{V3}/{token['id']}", api_key).status_code == 404
    listed = call(client, openapi, "get", V3, api_key).json()["results"]
    assert [t["id"] for t in listed] == [kept["id"]]
    page = admin_client.get("/settings/email/smtp-api/").content.decode()
    assert token["id"] not in page and kept["id"] in page
