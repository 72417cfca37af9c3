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

Floor (context, interleaved with the two): the bare view plus the one thing no single send can
skip, its row written durably: one INSERT in autocommit into a bare table with the sendId
unique (`floor_single_send` in bench/ref_urls.py), no key, no checks, no job queued. What it
reaches is about the most any single-send endpoint that writes its request down before
answering can reach in this server on this machine; the endpoint's share of it is printed.

Afterwards, once gunicorn has stopped (gracefully: each worker finishes its request), every
answered request must have its SingleSend row, each sendId once, and each row its job in the
broker, read back from the queue, once; a row without a job (its push failed, or the process
died between the INSERT and the push: the server log's warnings are printed) must be taken
by the pass over lost requests (`process.process_due`, beat's `single-send-due`) once it is
LOST_AFTER old, which the bench then runs on them. The rows and the queued jobs are then
removed so runs compare."""

import base64
import json
import os
import tempfile
import uuid
from pathlib import Path

import redis
from django.conf import settings
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from mailboxes import jobs
from mailboxes.models import EmailMessage, Outbound
from transactional.api import process
from transactional.api.models import SingleSend
from transactional.credentials.services import api_key_create
from transactional.emails.models import EmailState, TransactionalEmail
from transactional.pool.models import SendingPool

from . import tracking
from .common import bench_line
from .ref_urls import FLOOR_TABLE

NAME = "single_send_api"
TARGET_SHARE = 0.5
TARGET = f">={TARGET_SHARE} of ref"
PATH = "/marketing/v3/transactional/single-email/send"
SLICE = os.environ.get("BENCH_SINGLE_SEND_SLICE", "2s")
SLICES = int(os.environ.get("BENCH_SINGLE_SEND_SLICES", "10"))
EMAIL_NAME = "Bench receipt"
RECIPIENTS = 500
WARM_UP = "warm-up"

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
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {FLOOR_TABLE} (id bigint GENERATED BY DEFAULT AS "
            "IDENTITY PRIMARY KEY, status_id uuid NOT NULL UNIQUE, send_id varchar(255) NOT "
            "NULL UNIQUE, to_address varchar(320) NOT NULL, request jsonb NOT NULL, "
            "requested_at timestamptz NOT NULL)"
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
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {FLOOR_TABLE}")
    redis.Redis.from_url(settings.CELERY_BROKER_URL).delete("transactional")


def _queued_jobs() -> list[int]:
    """The SingleSend ids of the single-send jobs on the broker's transactional queue."""
    found = []
    for raw in redis.Redis.from_url(settings.CELERY_BROKER_URL).lrange("transactional", 0, -1):
        message = json.loads(raw)
        if message["headers"]["task"] == jobs.SINGLE_SEND:
            args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
            found.append(args[0])
    return found


def _check(email: TransactionalEmail, answered: int, warnings: list[str]) -> bool:
    """Every answered request has its row, each row its job or the lost-request pass."""
    sends = SingleSend.objects.filter(email=email)
    rows = set(sends.values_list("pk", flat=True))
    timed = sends.exclude(send_id__startswith=WARM_UP).count()
    jobbed = _queued_jobs()
    orphans = rows - set(jobbed)
    print(
        f"recorded sends: {timed:,} for {answered:,} answered (and {len(rows) - timed:,} of "
        f"the warm-up); jobs queued: {len(jobbed):,}; rows without a job: {len(orphans):,}"
    )
    for line in warnings[:5]:
        print(f"  server log: {line}")
    ok = True
    # wrk does not count what was in flight when a slice's clock stopped (up to a request per
    # connection, and the answers it reads after stopping): up to two per connection and
    # slice more may be recorded than answered.
    if not 0 <= timed - answered <= 2 * tracking.CONNECTIONS * SLICES:
        print("FAIL the recorded sends do not match the requests answered")
        ok = False
    if len(jobbed) != len(set(jobbed)) or not set(jobbed) <= rows:
        print("FAIL a job was queued twice, or for no recorded send")
        ok = False
    if orphans:
        # What beat's pass does to them once they are LOST_AFTER old (the others have their
        # jobs: out of its way, as a worker would have processed them).
        SingleSend.objects.filter(pk__in=rows - orphans).delete()
        SingleSend.objects.filter(pk__in=orphans).update(
            requested_at=timezone.now() - process.LOST_AFTER
        )
        taken = process.process_due(limit=len(orphans))
        left = SingleSend.objects.filter(pk__in=orphans, processed_at__isnull=True).count()
        print(f"the pass over lost requests took {taken:,} of them; {left:,} left pending")
        if taken != len(orphans) or left:
            print("FAIL a recorded send has neither its job nor the pass over lost requests")
            ok = False
    return ok


def run() -> bool:
    email, key = _setup()
    _clean(email)
    body = BODY % {"email": email.pk}
    print(
        f"server: gunicorn sync x{tracking.WORKERS}, DJANGO_ENV=production, PostgreSQL, "
        "Redis (broker)"
    )
    print(f"wrk: -t2 -c16, {SLICES} slices of -d{SLICE} each side (and the floor), interleaved")
    with tempfile.TemporaryDirectory(prefix="bench-single-send-") as tmp:
        workdir = Path(tmp)
        with tracking._gunicorn(workdir) as base:

            def wrk(path: str, duration: str, run: str = "") -> dict:
                env = {
                    "BENCH_RUN": run or uuid.uuid4().hex[:12],
                    "BENCH_BODY": body,
                    "BENCH_PATH": path,
                    "BENCH_KEY": key,
                }
                return tracking._wrk(base, [path], workdir, duration, lua=_LUA, env=env)

            wrk("/ref/" + PATH.lstrip("/"), "2s")
            # The warm-up's sends are checked with the rest but not counted as answered. (Not
            # removed now: a request still in flight would write its row after the removal.)
            wrk(PATH, "2s", run=WARM_UP)
            bare, ours, floor = tracking.interleaved(
                SLICES,
                lambda: wrk("/ref/" + PATH.lstrip("/"), SLICE),
                lambda: wrk(PATH, SLICE),
                lambda: wrk("/ref/floor/" + PATH.lstrip("/"), SLICE),
            )
        # gunicorn has stopped: what its workers could not queue they logged.
        warnings = [
            line
            for line in (workdir / "gunicorn.log").read_text(errors="replace").splitlines()
            if "not queued" in line or "Traceback" in line
        ]
    ok, value, ref_value = tracking.compare("single-send endpoint", bare, ours)
    floor_value, _ = tracking._aggregate("floor (bare view + one durable INSERT)", floor)
    if any(r["bad"] for r in floor):
        print("FAIL floor: some responses were not 2xx or 3xx")
        ok = False
    print(
        f"floor / bare view: {floor_value / ref_value:.0%}; single-send endpoint / floor: "
        f"{value / floor_value:.0%}"
    )
    ok = _check(email, sum(r["requests"] for r in ours), warnings) and ok
    _clean(email)
    share = value / ref_value
    print(f"share of the bare view's req/s: {share:.0%}")
    print(f"target {TARGET}: {'met' if share >= TARGET_SHARE else 'MISSED'}")
    print(bench_line(NAME, value, "req/s", ref_value, TARGET))
    return ok
