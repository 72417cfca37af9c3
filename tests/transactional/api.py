"""Helpers of the single-send API's tests: a published email, a key, a request."""

from __future__ import annotations

import json

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


def key(scopes=("transactional-email",)) -> str:
    return api_key_create("Shop backend", None, scopes=list(scopes)).api_key


def post(client, api_key: str | None, body, **extra):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {api_key}"} if api_key else {}
    data = body if isinstance(body, str) else json.dumps(body)
    return client.post(SEND, data=data, content_type="application/json", **headers, **extra)


def request(email, to="ada@client.test", send_id="order-1001", **fields) -> dict:
    body = {
        "emailId": email.pk,
        "message": {"to": to, "sendId": send_id},
        "contactProperties": {"firstname": "Ada", "lastname": "Lovelace"},
        "customProperties": {"order_id": "A-17"},
    }
    return {**body, **fields}
