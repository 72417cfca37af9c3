"""Send webhook deliveries: signed POSTs, retried with backoff for about a day, each attempt
a line of the endpoint's log.

A delivery is claimed with a conditional UPDATE (its `claimed_at` stamp), so two workers
never POST it at once, and released with its outcome. No redirect is followed (a 3xx is a
failure: the admin fixes the URL), only public addresses are reached (`network`), answers are
read only up to a snippet, and timeouts are short. A pass over due deliveries tries an
endpoint that failed in it no more that pass, so an endpoint that is down costs one timeout,
not one per event.
"""

from __future__ import annotations

import logging
import random
import time
from collections import Counter
from datetime import datetime, timedelta

import requests
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from mailboxes import jobs
from mailboxes.providers import GuardedAdapter, NetworkPolicy, guarded_http
from transactional.events import constants, signing
from transactional.events.constants import DeliveryStatus
from transactional.events.models import WebhookAttempt, WebhookDelivery

log = logging.getLogger(__name__)

BATCH = 50
PASS_SECONDS = 25.0
USER_AGENT = "crm-mail-webhooks/1"


def retry_delay(failed_attempts: int, rng: random.Random | None = None) -> timedelta | None:
    """How long to wait after the n-th failed attempt, with jitter; None: give up."""
    if failed_attempts > len(constants.RETRY_SCHEDULE):
        return None
    base = constants.RETRY_SCHEDULE[failed_attempts - 1]
    spread = (rng or random).uniform(-constants.JITTER, constants.JITTER)
    return base * (1 + spread)


def _due(now: datetime) -> Q:
    unclaimed = Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - constants.CLAIM_LEASE)
    # A disabled endpoint gets nothing, not even the retries of earlier events; a test event
    # still goes (the admin asked for it).
    wanted = Q(endpoint__enabled=True) | Q(type=constants.TEST_TYPE)
    return Q(status=DeliveryStatus.PENDING, next_attempt_at__lte=now) & unclaimed & wanted


def deliver(delivery_id: int) -> bool | None:
    """Attempt one delivery now if it is due and nobody holds it; return whether the endpoint
    took it, None when it was not ours to try."""
    now = timezone.now()
    if not WebhookDelivery.objects.filter(_due(now), pk=delivery_id).update(claimed_at=now):
        return None
    delivery = WebhookDelivery.objects.select_related("endpoint").filter(pk=delivery_id).first()
    if delivery is None:  # its endpoint was deleted meanwhile
        return None
    return _attempt(delivery, now)


def deliver_due(seconds: float = PASS_SECONDS) -> Counter:
    """Attempt due deliveries until none is left or `seconds` have passed."""
    deadline = time.monotonic() + seconds
    outcomes: Counter = Counter()
    down: set[int] = set()  # endpoints that failed this pass
    while time.monotonic() < deadline:
        now = timezone.now()
        due = list(
            WebhookDelivery.objects.filter(_due(now))
            .exclude(endpoint_id__in=down)
            .order_by("next_attempt_at", "pk")
            .values_list("pk", "endpoint_id")[:BATCH]
        )
        if not due:
            break
        for pk, endpoint_id in due:
            if endpoint_id in down or time.monotonic() >= deadline:
                continue
            ok = deliver(pk)
            outcomes[{True: "delivered", False: "failed", None: "skipped"}[ok]] += 1
            if ok is False:
                down.add(endpoint_id)
    return outcomes


def headers_for(delivery: WebhookDelivery, timestamp: int) -> dict[str, str]:
    secret = delivery.endpoint.secret.get("secret", "")
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "webhook-id": delivery.webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signing.sign(secret, delivery.webhook_id, timestamp, delivery.body),
    }


def network() -> NetworkPolicy:
    """Where a webhook may connect: public addresses and the admin's allow-list
    (`CRM_MAIL_SERVER_ALLOWLIST`), as for the mail servers users name, so an endpoint's URL
    cannot reach the LAN or a cloud metadata service; this machine too outside production
    (`make run`, the tests)."""
    entries = list(settings.CRM_MAIL_SERVER_ALLOWLIST)
    if not settings.PRODUCTION:
        entries += ["127.0.0.0/8", "::1"]
    return NetworkPolicy.from_entries(entries)


def _post(delivery: WebhookDelivery) -> tuple[int | None, str, str, int]:
    """POST it once: (status code or None, response snippet, error, milliseconds)."""
    started = time.monotonic()
    code, snippet, error = None, "", ""
    try:
        # The check and the connection use one lookup (providers/network.py): no rebinding.
        with requests.Session() as session, guarded_http(network()):
            session.mount("https://", GuardedAdapter())
            session.mount("http://", GuardedAdapter())
            with session.post(
                delivery.endpoint.url,
                data=delivery.body.encode(),
                headers=headers_for(delivery, int(time.time())),
                timeout=(constants.CONNECT_TIMEOUT, constants.READ_TIMEOUT),
                allow_redirects=False,
                stream=True,
            ) as response:
                code = response.status_code
                raw = response.raw.read(constants.SNIPPET_CHARS, decode_content=True) or b""
                snippet = raw.decode("utf-8", "replace")
    except requests.RequestException as exc:
        # requests wraps urllib3's error, whose reason is the part worth reading.
        reason = getattr(exc.args[0], "reason", None) if exc.args else None
        error = f"{type(exc).__name__}: {reason or exc}"[:500]
    return code, snippet, error, int((time.monotonic() - started) * 1000)


def _attempt(delivery: WebhookDelivery, now: datetime) -> bool:
    code, snippet, error, ms = _post(delivery)
    ok = code is not None and 200 <= code < 300
    attempts = delivery.attempts + 1
    changes = {"attempts": attempts, "claimed_at": None}
    if ok:
        changes |= {"status": DeliveryStatus.DELIVERED, "finished_at": timezone.now()}
        changes["next_attempt_at"] = None
    else:
        wait = retry_delay(attempts)
        if wait is None:
            changes |= {"status": DeliveryStatus.FAILED, "finished_at": timezone.now()}
            changes["next_attempt_at"] = None
        else:
            changes |= {"status": DeliveryStatus.PENDING, "next_attempt_at": now + wait}
            changes["finished_at"] = None
    with transaction.atomic():
        WebhookAttempt.objects.create(
            delivery=delivery,
            at=now,
            status_code=code,
            response=snippet,
            error=error,
            duration_ms=ms,
        )
        WebhookDelivery.objects.filter(pk=delivery.pk).update(**changes)
    if not ok:
        log.info(
            "webhook %s to %s failed: %s", delivery.webhook_id, delivery.endpoint, error or code
        )
    return ok


def redeliver(delivery: WebhookDelivery) -> None:
    """An admin's "Redeliver": the same id and body, tried again now by the worker, with a
    fresh day of retries should it fail."""
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=DeliveryStatus.PENDING,
        attempts=0,
        next_attempt_at=timezone.now(),
        claimed_at=None,
        finished_at=None,
    )
    jobs.later(jobs.DELIVER_WEBHOOK, delivery.pk)
