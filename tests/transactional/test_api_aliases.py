"""HubSpot's other paths of the single send (date-versioned, and the marketing single-send
v4) answer as the v3 path does, because they are the same operation: one sendId across them
is one send, the same key and scope rules hold, and each is in the OpenAPI document with its
own operationId."""

from __future__ import annotations

import pytest

from tests.transactional.api import SEND, held_to_schema, key, post, published, request
from tests.transactional.pool import pool_for
from transactional.api.models import SingleSend

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning"),
]

SEND_ALIASES = [
    "/marketing/transactional/2025-09/single-email/send",
    "/marketing/transactional/2026-03/single-email/send",
    "/marketing/transactional/2026-09/single-email/send",
    "/marketing/v4/email/single-send",
    "/marketing/email-campaigns/2026-03/single-send",
]
TOKEN_ALIASES = {
    "/marketing/v3/transactional/smtp-tokens": "/marketing/transactional/2026-03/smtp-tokens",
    "/marketing/v3/transactional/smtp-tokens/{tokenId}": (
        "/marketing/transactional/2026-03/smtp-tokens/{tokenId}"
    ),
    "/marketing/v3/transactional/smtp-tokens/{tokenId}/password-reset": (
        "/marketing/transactional/2026-03/smtp-tokens/{tokenId}/password-reset"
    ),
}


@pytest.mark.parametrize("path", SEND_ALIASES)
def test_each_alias_sends_as_v3_does_and_shares_its_send_ids(client, smtp_sink, openapi, path):
    pool_for(smtp_sink)
    email, api_key = published(), key()
    first = held_to_schema(openapi, post(client, api_key, request(email), path=path))
    assert first.status_code == 200 and first.json()["status"] == "PENDING"
    # The same sendId on v3 (and the alias again) answers the first send: one implementation.
    again = held_to_schema(openapi, post(client, api_key, request(email)))
    assert again.json()["statusId"] == first.json()["statusId"]
    assert SingleSend.objects.count() == 1
    # Its refusals and key rules are v3's.
    bad = held_to_schema(
        openapi, post(client, api_key, request(email, to="x", send_id="other"), path=path)
    )
    assert bad.status_code == 400 and bad.json()["subCategory"] == "INVALID_TO_ADDRESS"
    reader = key(scopes=("transactional-email.read",))
    refused = held_to_schema(openapi, post(client, reader, request(email), path=path))
    assert refused.status_code == 403 and refused.json()["category"] == "MISSING_SCOPES"
    assert held_to_schema(openapi, post(client, None, request(email), path=path)).status_code == (
        401
    )


def test_the_document_has_every_alias_as_the_same_operation_under_its_own_id(client):
    paths = client.get("/marketing/openapi.json").json()["paths"]
    pairs = [(SEND, alias) for alias in SEND_ALIASES] + list(TOKEN_ALIASES.items())
    ids = [op["operationId"] for methods in paths.values() for op in methods.values()]
    assert len(ids) == len(set(ids))
    for original, alias in pairs:
        assert set(paths[alias]) == set(paths[original]), alias
        for method, operation in paths[original].items():
            copy = paths[alias][method]
            for part in ("requestBody", "responses", "parameters", "security"):
                assert copy.get(part) == operation.get(part), (alias, method, part)
            assert f"`{original}`" in copy["description"]
            assert copy["summary"] == f"Alias: {operation['summary']}"
