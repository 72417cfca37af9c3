"""Helpers of the API's tests: a published email, a key, a request, and the check that a live
answer matches the OpenAPI document the code generates."""

from __future__ import annotations

import json

from openapi_core import OpenAPI
from openapi_core.contrib.django import DjangoOpenAPIRequest, DjangoOpenAPIResponse

from transactional.credentials.services import api_key_create
from transactional.emails.models import EmailState, TransactionalEmail

SEND = "/marketing/v3/transactional/single-email/send"


def published(**fields) -> TransactionalEmail:
    values = {
        "name": "Order receipt",
        "subject": "Your order {{ custom.order_id }}",
        "body": '<p>Hi {{ contact.first_name | default:"there" }}, thanks for order '
        "{{ custom.order_id }}. <a href='https://shop.test/orders'>Your orders</a></p>",
        "state": EmailState.PUBLISHED,
    }
    return TransactionalEmail.objects.create(**{**values, **fields})


def key(scopes=("transactional-email",), maker=None) -> str:
    return api_key_create("Shop backend", maker, scopes=list(scopes)).api_key


def post(client, api_key: str | None, body, path=SEND, **extra):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {api_key}"} if api_key else {}
    data = body if isinstance(body, str) else json.dumps(body)
    return client.post(path, data=data, content_type="application/json", **headers, **extra)


def openapi_of(client) -> OpenAPI:
    """The live OpenAPI document, loaded (and so checked) by openapi-core."""
    return OpenAPI.from_dict(client.get("/marketing/openapi.json").json())


def held_to_schema(openapi: OpenAPI, response):
    """The live answer matches what the generated document says of it (status, body)."""
    openapi.validate_response(
        DjangoOpenAPIRequest(response.wsgi_request), DjangoOpenAPIResponse(response)
    )
    return response


def request(email, to="ada@client.test", send_id="order-1001", **fields) -> dict:
    body = {
        "emailId": email.pk,
        "message": {"to": to, "sendId": send_id},
        "contactProperties": {"firstname": "Ada", "lastname": "Lovelace"},
        "customProperties": {"order_id": "A-17"},
    }
    return {**body, **fields}
