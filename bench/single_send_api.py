"""single_send_api: requests a second of the single-send endpoint, beside a bare view.

Target: under wrk at 16 connections, `POST /marketing/v3/transactional/single-email/send`
(a live API key, a published email with a contact token and a custom one, a distinct sendId
per request, each answered 200 with a statusId) reaches at least half the requests per
second of a bare Django view that parses the same body and answers the same JSON
(bench/ref_urls.py: `ref_single_send`, at the same depth), in the same server: gunicorn,
sync workers, the production settings (DJANGO_ENV=production, every middleware), the bench
database on PostgreSQL and Redis as broker, as bench/tracking.py runs it. Each request does
what a real one does: checks the key, the email and the input, writes the SingleSend row
(its sendId unique) and publishes its job to Redis (transactional/api/send.py); the worker's
part (the contact, rendering, the queued email: process.py) runs on the transactional queue
afterwards and is not in the request. No worker runs here. Both sides run 20 s in 2-second
slices, interleaved (the machine is shared: see bench/tracking.py).

Afterwards, every answered request must have its SingleSend row, each sendId once, and its
job in the broker; the rows and the queued jobs are then removed so runs compare."""

import os
import tempfile
import time
import uuid
from pathlib import Path

import redis
from django.conf import settings
from django.test import override_settings

from mailboxes.models import EmailMessage, Outbound
from transactional.api.models import SingleSend
from transactional.credentials.services import api_key_create
from transactional.emails.models import EmailState, TransactionalEmail
from transactional.pool.models import SendingPool

from . import tracking
from .common import bench_line

NAME = "single_send_api"
TARGET_SHARE = 0.5
TARGET = f">={TARGET_SHARE} of ref"
PATH = "/marketing/v3/transactional/single-email/send"
SLICE = os.environ.get("BENCH_SINGLE_SEND_SLICE", "2s")
SLICES = int(os.environ.get("BENCH_SINGLE_SEND_SLICES", "10"))
EMAIL_NAME = "Bench receipt"
RECIPIENTS = 500

# Each wrk thread numbers its own requests; the run's prefix keeps sendIds distinct across
# runs and slices. Recipients rotate over RECIPIENTS addresses (their contacts are created
# by the first requests, then updated, as HubSpot does).
_LUA = """
local counter = 0
local threads = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end
request = function()
  counter = counter + 1
  local send_id = os.getenv("BENCH_RUN") .. "-" .. tid .. "-" .. counter
  local body = string.format(os.getenv("BENCH_BODY"), counter % %(recipients)d, send_id)
  return wrk.format("POST", os.getenv("BENCH_PATH"), {
    ["Authorization"] = "Bearer " .. os.getenv("BENCH_KEY"),
    ["Content-Type"] = "application/json",
  }, body)
end
""".replace("%(recipients)d", str(RECIPIENTS))

BODY = (
    '{"emailId": %(email)d, "message": {"to": "buyer%%d@bench.example", "sendId": "%%s"}, '
    '"contactProperties": {"firstname": "Ada"}, "customProperties": {"order_id": "A-17"}}'
)


def _setup() -> tuple[TransactionalEmail, str]:
    pool = SendingPool.load()
    pool.enabled, pool.host, pool.port, pool.security = True, "127.0.0.1", 2525, "none"
    pool.from_address, pool.from_name = "receipts@bench.example", "Bench shop"
    pool.save()
    email = TransactionalEmail.objects.filter(name=EMAIL_NAME).first()
    if email is None:
        email = TransactionalEmail.objects.create(
            name=EMAIL_NAME,
            subject="Your order {{ custom.order_id }}",
            body='<p>Hi {{ contact.first_name | default:"there" }}, thanks for order '
            "{{ custom.order_id }}. <a href='https://shop.example/orders'>Your orders</a></p>",
            state=EmailState.PUBLISHED,
        )
    # Hashed under the key the bench's gunicorn runs with.
    with override_settings(SECRET_KEY=tracking.SECRET_KEY):
        issued = api_key_create("Bench", None, scopes=["transactional-email"])
    return email, issued.api_key


def _clean(email: TransactionalEmail) -> None:
    """Remove what the runs queued: the sends, their emails, the pool's queued jobs."""
    sends = SingleSend.objects.filter(email=email)
    message_ids = list(
        Outbound.objects.filter(pk__in=sends.values("outbound_id")).values_list(
            "message_id", flat=True
        )
    )
    sends.delete()
    EmailMessage.objects.filter(pk__in=message_ids).delete()
    redis.Redis.from_url(settings.CELERY_BROKER_URL).delete("transactional")


def run() -> bool:
    email, key = _setup()
    _clean(email)
    body = BODY % {"email": email.pk}
    print("server: gunicorn sync x2, DJANGO_ENV=production, PostgreSQL, Redis (broker)")
    print(f"wrk: -t2 -c16, {SLICES} slices of -d{SLICE} each side, interleaved")
    with tempfile.TemporaryDirectory(prefix="bench-single-send-") as tmp:
        workdir = Path(tmp)
        with tracking._gunicorn(workdir) as base:

            def wrk(path: str, duration: str) -> dict:
                env = {
                    "BENCH_RUN": uuid.uuid4().hex[:12],
                    "BENCH_BODY": body,
                    "BENCH_PATH": path,
                    "BENCH_KEY": key,
                }
                return tracking._wrk(base, [path], workdir, duration, lua=_LUA, env=env)

            wrk("/ref/" + PATH.lstrip("/"), "2s")
            wrk(PATH, "2s")
            _clean(email)  # the warm-up's sends: not counted
            bare, ours = tracking.interleaved(
                SLICES, lambda: wrk("/ref/" + PATH.lstrip("/"), SLICE), lambda: wrk(PATH, SLICE)
            )
    ok, value, ref_value = tracking.compare("single-send endpoint", bare, ours)
    # Every answered request has its row and job, each sendId once. wrk does not count what
    # was in flight when a slice's clock stopped (up to a request per connection, and the
    # answers it reads after stopping): up to two per connection and slice more may be.
    time.sleep(0.5)
    sends = SingleSend.objects.filter(email=email)
    recorded = sends.count()
    queued = redis.Redis.from_url(settings.CELERY_BROKER_URL).llen("transactional")
    answered = sum(r["requests"] for r in ours)
    print(f"recorded sends: {recorded:,} ({queued:,} jobs queued) for {answered:,} answered")
    if recorded != queued or not 0 <= recorded - answered <= 2 * tracking.CONNECTIONS * SLICES:
        print("FAIL the recorded sends do not match the requests answered")
        ok = False
    _clean(email)
    share = value / ref_value
    print(f"share of the bare view's req/s: {share:.0%}")
    print(f"target {TARGET}: {'met' if share >= TARGET_SHARE else 'MISSED'}")
    print(bench_line(NAME, value, "req/s", ref_value, TARGET))
    return ok
