"""The open pixel and the click redirect under load, beside a bare view answering the same bytes.

Target: under wrk at 16 connections, the open-pixel and click endpoints reach at least 80%
of the requests per second of a bare Django view returning the same response in the same
server setup, with p99 under 50 ms. The server is gunicorn, sync workers (2 x cores + 1, as
docker-compose.yml runs web on a 2-core machine: WEB_CONCURRENCY in README), with the
project's production settings (DJANGO_ENV=production, DEBUG off, every middleware) on the
bench database and Redis, serving both the project's URLs and the reference views
(bench/ref_urls.py, resolved at the same depth). wrk runs `-t2 -c16 --latency`, rotating over
the signed URLs of 1,000 sent messages (3,000 links for clicks), the reference over paths of
the same shape. The machine is shared and other work on it comes and goes within seconds
(plain back-to-back 10-second runs of the two gave ratios from 46% to 176% within a minute),
so each side runs 30 s in 2-second slices interleaved with the other's: value is the
project's requests per second over all its slices, ref the bare view's, p99 the median of the
slices' p99 (the worst is printed too).

Context: p99 of both, and the flush that writes the buffered hits to the database afterwards:
every hit wrk got an answer for must be there once gunicorn has stopped (its workers push what
they hold on the way out), or the benchmark fails. BENCH_TRACKING_BUFFER=direct measures the
unbuffered mode for comparison. Before the runs, the click endpoint must answer 410 (not a
redirect) to a link of an email deleted from the CRM; that deleted email stays in the set the
workers check during the runs."""

import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from django.test import override_settings
from django.utils import timezone

from mailboxes.constants import Direction
from mailboxes.models import (
    DeletedTrackedEmail,
    EmailMessage,
    EmailThread,
    TrackedLink,
    TrackingCursor,
    TrackingEvent,
    TrackingRollup,
)
from mailboxes.tracking import buffer, events, revocation, tokens
from mailboxes.tracking import links as tracked_links

from .common import bench_line, ensure_dataset
from .ref_urls import REF_TARGET

NAME = "tracking"
MESSAGES = 1_000
LINKS = 3
SIGNATURE = f"v1 messages={MESSAGES} links={LINKS}"
SUBJECT = "Tracking bench"
TARGET_SHARE = 0.80
TARGET_P99_MS = 50
TARGET = f"≥{TARGET_SHARE:.0%} of ref req/s, p99 < {TARGET_P99_MS} ms"
# gunicorn's advice for sync workers: a worker waiting on PostgreSQL or Redis leaves its core
# to another (2 workers on 2 cores left a core idle during each round trip: single_send_api
# 0.34-0.36 of the bare view, 0.39-0.42 with 5).
WORKERS = 2 * (os.cpu_count() or 1) + 1
CONNECTIONS = 16
THREADS = 2
# Each side gets SLICES runs of SLICE (30 s in all), interleaved with the other side's;
# BENCH_TRACKING_SLICE=10s BENCH_TRACKING_SLICES=1 is one plain 10-second run of each.
SLICE = os.environ.get("BENCH_TRACKING_SLICE", "2s")
SLICES = int(os.environ.get("BENCH_TRACKING_SLICES", "15"))
WARMUP = "2s"
# The gunicorn and the bench process must sign and verify with the same key.
SECRET_KEY = "bench-tracking-not-a-secret-0123456789-abcdefghijklmnopqrstuvwxyz"
STREAM = "bench:tracking:events"
BROWSER = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Safari/605.1.15"
)

_LUA = """
local paths = {}
for line in io.lines(os.getenv("BENCH_PATHS")) do paths[#paths + 1] = line end
local n = math.random(#paths)
request = function()
  n = n % #paths + 1
  return wrk.format("GET", paths[n], {["User-Agent"] = os.getenv("BENCH_UA")})
end
"""


def _link_url(message_index: int, position: int) -> str:
    # Same length as REF_TARGET, so both redirects answer the same number of bytes.
    url = f"https://www.example.com/pricing?utm_source=crm&utm_medium=email&n={message_index:05d}{position}"
    assert len(url) == len(REF_TARGET)
    return url


def _fill() -> None:
    sent = timezone.now() - timedelta(days=1)
    threads = EmailThread.objects.bulk_create(
        [EmailThread(subject=SUBJECT) for _ in range(MESSAGES)]
    )
    messages = EmailMessage.objects.bulk_create(
        [
            EmailMessage(
                thread=thread,
                direction=Direction.OUTGOING,
                from_addr="rep@bench.example",
                to_addrs=[f"buyer{i}@bench.example"],
                subject=SUBJECT,
                sent_at=sent,
                body_parsed=True,
            )
            for i, thread in enumerate(threads)
        ]
    )
    for i, message in enumerate(messages):
        links = "".join(f'<p><a href="{_link_url(i, p)}">link {p}</a></p>' for p in range(LINKS))
        tracked_links.instrument(f"<html><body>{links}</body></html>", message)


def _bench_messages():
    return EmailMessage.objects.filter(subject=SUBJECT, direction=Direction.OUTGOING)


def _verify() -> bool:
    return (
        _bench_messages().count() == MESSAGES
        and TrackedLink.objects.filter(message__subject=SUBJECT).count() == MESSAGES * LINKS
    )


def _reset_events() -> None:
    """Start each run from no events, so runs compare."""
    ids = list(_bench_messages().values_list("pk", flat=True))
    TrackingEvent.objects.filter(message_id__in=ids).delete()
    TrackingRollup.objects.filter(message_id__in=ids).update(
        human_opens=0,
        human_clicks=0,
        other_opens=0,
        other_clicks=0,
        first_human_open_at=None,
        last_human_open_at=None,
        last_event_at=None,
    )
    buffer.redis_client().delete(STREAM)
    TrackingCursor.objects.filter(stream=STREAM).delete()


def _paths(kind: str) -> tuple[list[str], list[str]]:
    """(project paths, reference paths) for every bench message or link."""
    project, ref = [], []
    if kind == "open":
        for pk in _bench_messages().order_by("pk").values_list("pk", flat=True):
            token = tokens.open_token(pk)
            project.append(f"/t/o/{token}.gif")
            ref.append(f"/ref/o/{token}.gif")
    else:
        links = TrackedLink.objects.filter(message__subject=SUBJECT).order_by("pk")
        for link in links.only("pk", "message_id", "url"):
            token = tokens.click_token(link.message_id, link.pk, link.url)
            project.append(f"/t/c/{token}")
            ref.append(f"/ref/c/{token}")
    return project, ref


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _collect_static(env: dict) -> None:
    """collectstatic, as the production image runs it (Dockerfile): with the manifest storage
    of the production settings, a page naming a static file the manifest lacks fails (500),
    and a checkout has no staticfiles/ until it runs. Quick when nothing changed."""
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
        cwd=Path(__file__).resolve().parent.parent,
        env=env,
        check=True,
    )


@contextmanager
def _gunicorn(workdir: Path):
    from cryptography.fernet import Fernet

    port = _free_port()
    env = {
        **os.environ,
        "DJANGO_ENV": "production",
        "DJANGO_SETTINGS_MODULE": "bench.settings_tracking",
        "DJANGO_SECRET_KEY": SECRET_KEY,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "DJANGO_LOG_LEVEL": "WARNING",
        "CRM_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "BENCH_TRACKING_STREAM": STREAM,
    }
    _collect_static(env)
    log = open(workdir / "gunicorn.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("gunicorn")),
            "crm_mail.wsgi:application",
            "--workers",
            str(WORKERS),
            "--worker-class",
            "sync",
            "--bind",
            f"127.0.0.1:{port}",
            "--env",
            "DJANGO_SETTINGS_MODULE=bench.settings_tracking",
        ],
        cwd=Path(__file__).resolve().parent.parent,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{base}/ref/o/x.gif", timeout=1).read()
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if process.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    tail = (workdir / "gunicorn.log").read_text(errors="replace")[-3000:]
                    raise RuntimeError(f"gunicorn did not start:\n{tail}") from None
                time.sleep(0.2)
        yield base
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _wrk(
    base: str, paths: list[str], workdir: Path, duration: str, lua: str = _LUA, env=None
) -> dict:
    """Run wrk over the paths (or as `lua` says, with `env`: bench/single_send_api.py);
    return req/s, p99 (ms), requests and errors."""
    path_file = workdir / "paths.txt"
    path_file.write_text("\n".join(paths) + "\n")
    script = workdir / "rotate.lua"
    script.write_text(lua)
    out = subprocess.run(
        [
            shutil.which("wrk") or "/usr/bin/wrk",
            f"-t{THREADS}",
            f"-c{CONNECTIONS}",
            f"-d{duration}",
            "--latency",
            "-s",
            str(script),
            base + paths[0],
        ],
        env={**os.environ, "BENCH_PATHS": str(path_file), "BENCH_UA": BROWSER, **(env or {})},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99_value, p99_unit = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s|m)\b", out, re.M).groups()
    requests, took, took_unit = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)\b", out).groups()
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {
        "rps": rps,
        "p99": float(p99_value) * _UNITS_MS[p99_unit],
        "requests": int(requests),
        "seconds": float(took) * _UNITS_MS[took_unit] / 1000,
        "bad": int(bad.group(1)) if bad else 0,
        "errors": errors.group(1) if errors else "none",
    }


def _deleted_email_path() -> tuple[int, str]:
    """A click link of an email deleted from the CRM (an id past the bench's, marked deleted as
    the timeline's Delete marks one): it must answer 410, never redirect."""
    gone = (_bench_messages().order_by("-pk").values_list("pk", flat=True).first() or 0) + 10**6
    revocation.mark_deleted([gone])  # autocommit: in Redis at once
    return gone, f"/t/c/{tokens.click_token(gone, 1, _link_url(0, 0))}"


def _forget_deleted_email(gone: int) -> None:
    DeletedTrackedEmail.objects.filter(pk=gone).delete()
    revocation.rebuild()


def _check_answers(base: str, project: list[str], kind: str, gone_path: str = "") -> bool:
    """The project's endpoint answers as the reference does, refuses a forged token and, for
    clicks, a deleted email's link."""
    ok = True

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)

    def get(path):
        try:
            with opener.open(base + path, timeout=5) as response:
                return response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.headers, error.read()

    status, headers, body = get(project[0])
    if kind == "open":
        ok = status == 200 and headers["Content-Type"] == "image/gif" and len(body) == 43
        forged_status, _, forged_body = get("/t/o/AAAAAAAAAAAAAAAAAAAAAAAAAAAA.gif")
        ok = ok and forged_status == 200 and len(forged_body) == 43
    else:
        ok = status == 302 and headers["Location"].startswith("https://www.example.com/")
        forged_status, _, _ = get(project[0][:-2] + ("AA" if project[0][-2:] != "AA" else "BB"))
        ok = ok and forged_status == 404
        gone_status, gone_headers, _ = get(gone_path)
        if gone_status != 410 or "Location" in gone_headers:
            print(f"FAIL a deleted email's link answered {gone_status}, not 410")
            ok = False
    if not ok:
        print(f"FAIL the {kind} endpoint does not answer as it should ({status}, {forged_status})")
    return ok


def _recorded_count() -> int:
    ids = _bench_messages().values_list("pk", flat=True)
    return TrackingEvent.objects.filter(message_id__in=ids).count()


def _aggregate(label: str, slices: list[dict]) -> tuple[float, float]:
    """Print and return (requests a second over all slices, median of the slices' p99)."""
    rps = sum(r["requests"] for r in slices) / sum(r["seconds"] for r in slices)
    p99 = statistics.median(r["p99"] for r in slices)
    errors = "; ".join(sorted({r["errors"] for r in slices}))
    print(
        f"{label}: {rps:,.0f} req/s over {len(slices)} slices, p99 {p99:.1f} ms "
        f"(median of slices; worst {max(r['p99'] for r in slices):.1f} ms), "
        f"socket errors: {errors}"
    )
    return rps, p99


def interleaved(slices: int, *sides) -> tuple[list[dict], ...]:
    """Run each of `sides` (each call one wrk slice) `slices` times, round by round, the order
    reversed every other round (the machine is shared: a busy moment hits every side alike);
    each side's results, in the order given."""
    runs: list[list[dict]] = [[] for _ in sides]
    order = list(range(len(sides)))
    for i in range(slices):
        for n in order if i % 2 == 0 else reversed(order):
            runs[n].append(sides[n]())
    return tuple(runs)


def compare(label: str, bare: list[dict], ours: list[dict]) -> tuple[bool, float, float]:
    """Check every answer was 2xx or 3xx, print both sides and the slice-by-slice ratio;
    return (all answers fine, our req/s, the bare view's req/s)."""
    ok = True
    for name, results in (("bare view", bare), (label, ours)):
        if any(r["bad"] for r in results):
            print(f"FAIL {name}: some responses were not 2xx or 3xx")
            ok = False
    ref_value, _ = _aggregate("bare view", bare)
    value, _ = _aggregate(label, ours)
    pairs = sorted(o["rps"] / b["rps"] for o, b in zip(ours, bare, strict=True))
    print(
        f"slice by slice, {label} / bare view: median {statistics.median(pairs):.0%}, "
        f"from {pairs[0]:.0%} to {pairs[-1]:.0%}"
    )
    return ok, value, ref_value


def _run(kind: str) -> bool:
    name = f"tracking_{kind}"
    with override_settings(SECRET_KEY=SECRET_KEY, TRACKING_STREAM=STREAM, TRACKING_BUFFER=None):
        ensure_dataset(NAME, SIGNATURE, _fill, _verify)
        _reset_events()
        project, ref = _paths(kind)
        mode = os.environ.get("BENCH_TRACKING_BUFFER") or buffer.buffer_mode()
        print(f"server: gunicorn sync x{WORKERS}, DJANGO_ENV=production; hits buffered: {mode}")
        print(
            f"wrk: -t{THREADS} -c{CONNECTIONS} --latency over {len(project):,} URLs, "
            f"{SLICES} slices of -d{SLICE} each, interleaved with the bare view's"
        )
        bare, ours = [], []
        gone, gone_path = _deleted_email_path() if kind == "click" else (None, "")
        with (
            tempfile.TemporaryDirectory(prefix="bench-tracking-") as tmp,
            _gunicorn(Path(tmp)) as base,
        ):
            workdir = Path(tmp)
            ok = _check_answers(base, project, kind, gone_path)
            _wrk(base, ref, workdir, WARMUP)
            _wrk(base, project, workdir, WARMUP)
            # Let the workers push what they hold, then start the measured runs from nothing.
            time.sleep(buffer.PUSH_SECONDS * 3)
            _reset_events()
            # Other work on a shared machine comes and goes within seconds: short slices,
            # alternating which goes first, expose both to the same load.
            for i in range(SLICES):
                for side in ("bare", "ours") if i % 2 == 0 else ("ours", "bare"):
                    if side == "bare":
                        bare.append(_wrk(base, ref, workdir, SLICE))
                    else:
                        ours.append(_wrk(base, project, workdir, SLICE))
        # gunicorn has stopped: its workers pushed what they held on the way out.
        if gone is not None:
            _forget_deleted_email(gone)

        ref_value, ref_p99 = _aggregate("bare view", bare)
        value, p99 = _aggregate(f"{kind} endpoint", ours)
        pairs = sorted(o["rps"] / b["rps"] for o, b in zip(ours, bare, strict=True))
        print(
            f"slice by slice, endpoint / bare view: median {statistics.median(pairs):.0%}, "
            f"from {pairs[0]:.0%} to {pairs[-1]:.0%}"
        )
        for label, results in (("bare view", bare), (f"{kind} endpoint", ours)):
            if any(r["bad"] for r in results):
                print(f"FAIL {label}: some responses were not 2xx/3xx")
                ok = False

        # Every hit answered must be recorded; wrk does not count the few still in flight
        # when it stops, so up to one per connection and slice more may be.
        started = time.perf_counter()
        flushed = events.flush_events()
        flush_seconds = time.perf_counter() - started
        recorded = _recorded_count()
        answered = sum(r["requests"] for r in ours)
        if flushed:
            print(
                f"flush: {flushed:,} buffered hits classified and written in {flush_seconds:.2f} s "
                f"({flushed / flush_seconds:,.0f} hits/s, batches of 1,000)"
            )
        print(f"recorded events: {recorded:,} for {answered:,} answered hits")
        if not 0 <= recorded - answered <= CONNECTIONS * SLICES:
            print("FAIL the recorded events do not match the hits wrk got answers for")
            ok = False
        _reset_events()

    share = value / ref_value
    met = share >= TARGET_SHARE and p99 < TARGET_P99_MS
    print(f"share of the bare view's req/s: {share:.0%}")
    print(f"p99: endpoint {p99:.1f} ms, bare view {ref_p99:.1f} ms")
    print(f"target {TARGET}: {'met' if met else 'MISSED'}")
    print(bench_line(name, value, "req/s", ref_value, TARGET))
    return ok


def run_open() -> bool:
    return _run("open")


def run_click() -> bool:
    return _run("click")
