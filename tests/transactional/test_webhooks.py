"""Webhooks of transactional email: each state change reaches each endpoint once, signed the
Standard Webhooks way, retried with backoff for about a day; redeliver and the test event.

The endpoint is a real HTTP server on loopback (tests/transactional/receiver.py), whose
signature check is written apart from the product's."""

from __future__ import annotations

import json
import random
import socket
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from mailboxes import jobs
from mailboxes.constants import SendStatus
from mailboxes.models import Outbound
from tests.transactional.pool import pool_for, queue
from tests.transactional.receiver import WebhookReceiver, verify
from transactional.events import constants, endpoints, recording, webhooks
from transactional.events.constants import DeliveryStatus, EventType
from transactional.events.forms import EndpointForm
from transactional.events.models import StatusEvent, WebhookDelivery
from transactional.pool import delivery as pool_delivery
from transactional.pool import queue as admin_queue
from transactional.pool.models import DomainDeferral

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning"),
]


def endpoint_for(url: str, types=None, user=None):
    form = EndpointForm(
        data={"url": url, "event_types": types or list(EventType.values), "enabled": "on"}
    )
    assert form.is_valid(), form.errors
    return endpoints.endpoint_create(form, user)


def make_due(delivery: WebhookDelivery) -> None:
    """What the passing of time does: the next try is now in the past."""
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )


def between(value, base: timedelta, start):
    low = start + base * (1 - constants.JITTER) - timedelta(seconds=1)
    high = start + base * (1 + constants.JITTER) + timedelta(seconds=5)
    return low <= value <= high


def test_a_receiver_that_fails_twice_gets_each_event_once_signed(
    smtp_sink, queued_jobs, django_capture_on_commit_callbacks
):
    pool_for(smtp_sink)
    with WebhookReceiver(script=[500, 503]) as receiver:
        endpoint, secret = endpoint_for(receiver.url)
        with django_capture_on_commit_callbacks(execute=True):
            # Its "queued" is recorded in the transaction that queues it.
            outbound = queue("ada@client.test")
            sent = recording.record(outbound.pk, EventType.SENT)
            # The same change heard again (a replayed signal, a retried send): nothing new.
            assert recording.record(outbound.pk, EventType.QUEUED) is None
            assert recording.record(outbound.pk, EventType.SENT) is None
        queued = StatusEvent.objects.get(outbound=outbound, type=EventType.QUEUED)
        deliveries = {d.event_id: d for d in WebhookDelivery.objects.all()}
        assert set(deliveries) == {queued.pk, sent.pk}
        # One job each, on the transactional queue, queued on commit.
        assert sorted(queued_jobs.args_of(jobs.DELIVER_WEBHOOK)) == sorted(
            (d.pk,) for d in deliveries.values()
        )

        first = deliveries[queued.pk]
        start = timezone.now()
        assert webhooks.deliver(first.pk) is False  # 500
        first.refresh_from_db()
        assert first.status == DeliveryStatus.PENDING and first.attempts == 1
        assert between(first.next_attempt_at, timedelta(seconds=5), start)
        assert webhooks.deliver(first.pk) is None  # not due yet: not tried

        make_due(first)
        start = timezone.now()
        assert webhooks.deliver(first.pk) is False  # 503
        first.refresh_from_db()
        assert between(first.next_attempt_at, timedelta(minutes=5), start)

        make_due(first)
        assert webhooks.deliver(first.pk) is True
        assert webhooks.deliver(deliveries[sent.pk].pk) is True
        # Done: neither is tried again.
        assert sum(webhooks.deliver_due(seconds=2).values()) == 0

    assert len(receiver.received) == 4  # three tries of one event, one of the other
    for got in receiver.received:
        verify(secret, got)
    kept = receiver.unique()
    assert sorted(r.json["type"] for r in kept.values()) == ["email.queued", "email.sent"]
    # Every try carried the same id and body.
    tries = [r for r in receiver.received if r.id == first.webhook_id]
    assert len(tries) == 3 and len({r.body for r in tries}) == 1
    body = tries[0].json
    assert body["data"]["messageId"] == outbound.pk
    assert body["data"]["recipients"] == ["ada@client.test"]
    assert body["timestamp"].endswith("Z")

    first.refresh_from_db()
    assert first.status == DeliveryStatus.DELIVERED and first.attempts == 3
    log = list(first.attempt_log.order_by("at", "pk"))
    assert [a.status_code for a in log] == [500, 503, 200]
    assert log[0].response == "upstream trouble" and log[-1].response == '{"ok": true}'


def test_a_tampered_body_or_another_secret_fails_the_independent_check(smtp_sink):
    pool_for(smtp_sink)
    outbound = queue()
    with WebhookReceiver() as receiver:
        endpoint, secret = endpoint_for(receiver.url)
        recording.record(outbound.pk, EventType.SENT)
        webhooks.deliver_due(seconds=2)
    (got,) = receiver.received
    verify(secret, got)
    got.body = got.body.replace(b"email.sent", b"email.open")
    with pytest.raises(AssertionError, match="bad signature"):
        verify(secret, got)
    rotated = endpoints.secret_rotate(endpoint)
    assert rotated != secret and rotated.startswith("whsec_")


def test_the_retries_last_more_than_a_day_with_jitter_then_the_delivery_fails(smtp_sink):
    total = sum(constants.RETRY_SCHEDULE, timedelta())
    assert total > timedelta(days=1)
    rng = random.Random(7)
    waits = [webhooks.retry_delay(n, rng) for n in range(1, len(constants.RETRY_SCHEDULE) + 1)]
    for wait, base in zip(waits, constants.RETRY_SCHEDULE, strict=True):
        assert base * 0.9 <= wait <= base * 1.1
    assert len(set(waits)) == len(waits)
    assert webhooks.retry_delay(len(constants.RETRY_SCHEDULE) + 1) is None

    pool_for(smtp_sink)
    outbound = queue()
    with WebhookReceiver(script=[500] * 20) as receiver:
        endpoint_for(receiver.url)
        recording.record(outbound.pk, EventType.SENT)
        delivery = WebhookDelivery.objects.get()
        for _ in range(len(constants.RETRY_SCHEDULE)):
            assert webhooks.deliver(delivery.pk) is False
            make_due(delivery)
        assert webhooks.deliver(delivery.pk) is False  # the last try
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED and delivery.next_attempt_at is None
    assert delivery.attempts == len(constants.RETRY_SCHEDULE) + 1
    assert len(receiver.received) == delivery.attempts
    assert webhooks.deliver(delivery.pk) is None  # failed: the worker leaves it


def test_redeliver_sends_the_same_event_again_and_the_test_event(
    smtp_sink, queued_jobs, django_capture_on_commit_callbacks
):
    pool_for(smtp_sink)
    outbound = queue()
    with WebhookReceiver() as receiver:
        endpoint, secret = endpoint_for(receiver.url, types=[EventType.SENT])
        recording.record(outbound.pk, EventType.QUEUED)  # not subscribed: no delivery
        recording.record(outbound.pk, EventType.SENT)
        delivery = WebhookDelivery.objects.get()
        assert webhooks.deliver(delivery.pk) is True

        with django_capture_on_commit_callbacks(execute=True):
            webhooks.redeliver(delivery)
        assert queued_jobs.args_of(jobs.DELIVER_WEBHOOK)[-1] == (delivery.pk,)
        delivery.refresh_from_db()
        assert delivery.status == DeliveryStatus.PENDING
        assert webhooks.deliver(delivery.pk) is True

        with django_capture_on_commit_callbacks(execute=True):
            test = endpoints.send_test(endpoint)
        assert queued_jobs.args_of(jobs.DELIVER_WEBHOOK)[-1] == (test.pk,)
        assert webhooks.deliver(test.pk) is True
    first, again, ping = receiver.received
    assert first.id == again.id == delivery.webhook_id and first.body == again.body
    assert ping.json["type"] == "webhook.test" and ping.id != first.id
    for got in receiver.received:
        verify(secret, got)
    assert delivery.attempt_log.count() == 2


def test_a_down_endpoint_costs_one_try_a_pass_and_does_not_block_the_others(smtp_sink):
    pool_for(smtp_sink)
    outbounds = [queue(f"p{i}@client.test") for i in range(3)]
    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        down_url = f"http://127.0.0.1:{closed.getsockname()[1]}/hooks"
    with WebhookReceiver() as receiver:
        down, _ = endpoint_for(down_url)
        endpoint_for(receiver.url)
        for outbound in outbounds:
            recording.record(outbound.pk, EventType.SENT)
        outcomes = webhooks.deliver_due(seconds=10)
    assert outcomes == {"delivered": 3, "failed": 1}
    assert len(receiver.unique()) == 3
    tried = WebhookDelivery.objects.filter(endpoint=down)
    assert sorted(tried.values_list("attempts", flat=True)) == [0, 0, 1]
    assert "ConnectionError" in tried.get(attempts=1).attempt_log.get().error


def test_a_redirect_is_not_followed(smtp_sink):
    pool_for(smtp_sink)
    outbound = queue()
    with WebhookReceiver(script=[(302, {"Location": "http://127.0.0.1:9/elsewhere"})]) as r:
        endpoint_for(r.url)
        recording.record(outbound.pk, EventType.SENT)
        assert webhooks.deliver(WebhookDelivery.objects.get().pk) is False
    assert len(r.received) == 1
    assert WebhookDelivery.objects.get().attempt_log.get().status_code == 302


def test_a_deferral_retried_is_one_state_change_and_a_cancel_another(
    smtp_sink, admin_user, django_capture_on_commit_callbacks
):
    pool_for(smtp_sink)
    outbound = queue("ada@client.test")
    smtp_sink.refuse("ada@client.test", "421 4.7.0 Try again later")
    with WebhookReceiver() as receiver:
        endpoint_for(receiver.url)
        for _ in range(2):
            with django_capture_on_commit_callbacks(execute=True):
                assert pool_delivery.deliver(outbound.pk) == SendStatus.DEFERRED
            # The deferral's time passes: the pool tries again, and is deferred again.
            DomainDeferral.objects.update(until=timezone.now())
            Outbound.objects.filter(pk=outbound.pk).update(next_attempt_at=timezone.now())
        with django_capture_on_commit_callbacks(execute=True):
            assert admin_queue.cancel([outbound.pk], admin_user) == 1
        webhooks.deliver_due(seconds=2)
    (deferred,) = StatusEvent.objects.filter(type=EventType.DEFERRED)
    assert "421 4.7.0 Try again later" in deferred.data["reason"]
    assert deferred.data["nextAttemptAt"]
    assert sorted(r.json["type"] for r in receiver.unique().values()) == [
        "email.cancelled",
        "email.deferred",
    ]
    assert len(receiver.received) == 2
    cancelled = StatusEvent.objects.get(type=EventType.CANCELLED)
    assert cancelled.data["reason"].startswith("Cancelled by")


@pytest.mark.parametrize(
    "url, ok",
    [
        ("https://hooks.shop.test/crm", True),
        ("http://127.0.0.1:8080/hooks", True),
        ("http://hooks.shop.test/crm", False),
        ("ftp://hooks.shop.test/crm", False),
        ("https://user:pw@hooks.shop.test/crm", False),
    ],
)
def test_endpoint_urls_are_https_but_for_this_machine(url, ok):
    form = EndpointForm(data={"url": url, "event_types": [EventType.SENT], "enabled": "on"})
    assert form.is_valid() is ok
    if not ok:
        assert form.errors["url"]


def test_the_body_is_type_timestamp_and_data():
    at = timezone.now()
    body = json.loads(recording.body_of("email.sent", at, {"messageId": 1}))
    assert set(body) == {"type", "timestamp", "data"}


def test_a_disabled_endpoint_gets_no_retry_and_the_pages_are_admins_only(
    smtp_sink, client, admin_user, owner
):
    pool_for(smtp_sink)
    outbound = queue()
    with WebhookReceiver(script=[500]) as receiver:
        endpoint, _ = endpoint_for(receiver.url)
        recording.record(outbound.pk, EventType.SENT)
        waiting = WebhookDelivery.objects.get()
        assert webhooks.deliver(waiting.pk) is False

        client.force_login(admin_user)
        page = reverse("transactional:webhook", args=[endpoint.pk])
        redeliver = reverse("transactional:webhook-redeliver", args=[endpoint.pk, waiting.pk])
        answer = client.post(redeliver, follow=True)
        assert "already waiting for its next try" in answer.content.decode()
        # Disabled on its page (the box unticked): its retries stop too.
        answer = client.post(page, {"url": receiver.url, "event_types": [EventType.SENT]})
        assert answer.status_code == 302
        endpoint.refresh_from_db()
        assert not endpoint.enabled
        make_due(waiting)
        assert webhooks.deliver(waiting.pk) is None
        assert sum(webhooks.deliver_due(seconds=2).values()) == 0
    assert len(receiver.received) == 1

    client.force_login(owner)
    assert client.get(reverse("transactional:webhooks")).status_code == 403
    assert client.post(reverse("transactional:webhook-test", args=[endpoint.pk])).status_code == 403


def test_in_production_an_endpoint_reaches_only_public_or_allow_listed_addresses(
    smtp_sink, settings
):
    pool_for(smtp_sink)
    outbound = queue()
    with WebhookReceiver() as receiver:
        endpoint_for(receiver.url)
        recording.record(outbound.pk, EventType.SENT)
        delivery = WebhookDelivery.objects.get()
        # The tests allow-list loopback for their servers (tests/conftest.py): not here.
        settings.CRM_MAIL_SERVER_ALLOWLIST = []
        settings.PRODUCTION = True  # this machine is no longer allowed...
        assert webhooks.deliver(delivery.pk) is False
        assert "which is not a public address" in delivery.attempt_log.get().error
        assert receiver.received == []
        settings.CRM_MAIL_SERVER_ALLOWLIST = ["127.0.0.1"]  # ...unless an admin allows it
        make_due(delivery)
        assert webhooks.deliver(delivery.pk) is True
    assert len(receiver.received) == 1
