"""Messages a second the SMTP API server accepts from CLIENTS concurrent authenticated clients
and the sending pool delivers to an aiosmtpd sink, beside raw aiosmtplib into the same sink.

Target: at least half the reference.

Messages: MESSAGES emails of mixed sizes (text + HTML, some with an attachment), the generator
of send_throughput, one recipient each.

ref: CLIENTS aiosmtplib clients, each over one reused, logged-in connection, sending their
share of the messages straight to the sink at once; messages / elapsed. Median of RUNS.
value: the same CLIENTS clients send the same messages to `manage.py smtp_api` (its own process,
DEBUG off, implicit TLS, logged in with an SMTP token), which stores each in the outbox before
its 250 and queues their send jobs (a job per batch it stored together); the transactional
queue's Celery worker, started as docker-compose.yml starts it (`--concurrency=WORKERS`, 2),
runs those jobs (`transactional.pool.delivery.deliver`) and sends them to the sink. From the
first message sent until the sink has the last one; each run checks that every message
arrived exactly once with the Message-ID its 250 named. Median of RUNS, runs alternating with
the reference's.
PostgreSQL and Redis as configured (rate limits off: they are not what is measured).

Floor (context, measured in each run beside the two): the same clients through a pass-through
proxy in its own process (`python -m bench.smtp_api proxy`): aiosmtpd on implicit TLS with
AUTH, each message handed to the sink over one of WORKERS logged-in aiosmtplib connections
before its 250, nothing stored, parsed or tracked: the hop any SMTP API adds (a TLS server
taking the message, a client handing it to the relay), before anything else it does.
"""

from __future__ import annotations

import asyncio
import os
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

NAME = "smtp_api"
MESSAGES = int(os.environ.get("BENCH_SMTP_API_MESSAGES", 800))
CLIENTS = 8
WORKERS = 2
RUNS = int(os.environ.get("BENCH_SMTP_API_RUNS", 3))
SEED = 7_771
TARGET_SHARE = 0.5
TARGET = ">=0.5 of ref"
FROM = "receipts@smtp-bench.test"
RECIPIENTS = [f"customer{n}@client-bench.test" for n in range(50)]
RUN_LOCK = 7_771_001  # a PostgreSQL advisory lock id for this benchmark

# The transactional queue's worker, as in docker-compose.yml (its log to a file).
WORKER = ["-m", "celery", "-A", "crm_mail", "worker", "-Q", "transactional"]
WORKER += ["-n", "transactional-bench@%h", "--loglevel=info", f"--concurrency={WORKERS}"]


def _env(cert: Path, key: Path) -> dict:
    from django.db import connection

    db = connection.settings_dict
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "crm_mail.settings",
        "DJANGO_DEBUG": "false",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:"
        f"{db['PORT'] or 5432}/{db['NAME']}",
        "CRM_SMTP_API_CERT_FILE": str(cert),
        "CRM_SMTP_API_KEY_FILE": str(key),
        "CRM_SMTP_API_MINUTE_LIMIT": "0",
        "CRM_SMTP_API_HOUR_LIMIT": "0",
    }


def _pool(sink) -> None:
    from bench.send_throughput import SINK_PASSWORD, SINK_USER
    from transactional.pool.models import SendingPool

    pool = SendingPool.load()
    pool.enabled = True
    pool.host, pool.port, pool.security = "127.0.0.1", sink.port, "none"
    pool.username, pool.secret = SINK_USER, {"password": SINK_PASSWORD}
    pool.from_address, pool.from_name = FROM, "Bench receipts"
    pool.dkim_signing, pool.minute_limit = False, None
    pool.save()


async def _send_all(connect, messages, login=None) -> list[str]:
    """CLIENTS clients at once, each its share over one connection; their replies."""
    import aiosmtplib

    async def client(share):
        smtp = connect()
        await smtp.connect()
        await smtp.login(*login)
        replies = []
        for message in share:
            _, reply = await smtp.sendmail(FROM, [message["to"]], message["raw"])
            replies.append(reply)
        await smtp.quit()
        return replies

    assert aiosmtplib
    shares = [messages[n::CLIENTS] for n in range(CLIENTS)]
    results = await asyncio.gather(*(client(s) for s in shares))
    return [r for replies in results for r in replies]


def raw_rate(sink, messages) -> float:
    import aiosmtplib

    from bench.send_throughput import SINK_PASSWORD, SINK_USER

    return _straight_rate(
        sink,
        messages,
        lambda: aiosmtplib.SMTP(hostname="127.0.0.1", port=sink.port, start_tls=False),
        (SINK_USER, SINK_PASSWORD),
        "raw",
    )


def proxy_rate(sink, messages, port, client_tls) -> float:
    import aiosmtplib

    return _straight_rate(
        sink,
        messages,
        lambda: aiosmtplib.SMTP(
            hostname="127.0.0.1", port=port, use_tls=True, tls_context=client_tls
        ),
        ("floor", "floor"),
        "proxied",
    )


def _straight_rate(sink, messages, connect, login, what: str) -> float:
    """Messages a second into the sink with no queue on the way: each is there at its 250."""
    started = time.perf_counter()
    asyncio.run(_send_all(connect, messages, login))
    elapsed = time.perf_counter() - started
    arrived = sink.take()
    if len(arrived) != len(messages):
        raise RuntimeError(f"the sink got {len(arrived)} of {len(messages)} {what} messages")
    return len(messages) / elapsed


def proxy_main(port: int, sink_port: int, cert: str, key: str) -> None:
    """The floor's proxy: serve until stdin closes."""
    import aiosmtplib
    from aiosmtpd.smtp import AuthResult

    from bench.send_throughput import SINK_PASSWORD, SINK_USER, serve

    class Relay:
        def __init__(self) -> None:
            self.idle: asyncio.Queue | None = None

        async def handle_DATA(self, server, session, envelope):  # noqa: N802
            if self.idle is None:
                self.idle = asyncio.Queue()
                for _ in range(WORKERS):
                    smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=sink_port, start_tls=False)
                    await smtp.connect()
                    await smtp.login(SINK_USER, SINK_PASSWORD)
                    self.idle.put_nowait(smtp)
            smtp = await self.idle.get()
            try:
                content = envelope.original_content or envelope.content
                await smtp.sendmail(envelope.mail_from, envelope.rcpt_tos, content)
            finally:
                self.idle.put_nowait(smtp)
            return "250 2.0.0 Ok: relayed"

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    controller = serve(Relay(), port, lambda *_: AuthResult(success=True), context)
    sys.stdin.read()
    controller.stop()


def api_rate(sink, messages, port, token, client_tls) -> tuple[float, float, list[str]]:
    """(delivered msgs/s, accepted msgs/s, problems)."""
    import aiosmtplib

    started_epoch = time.time()
    started = time.perf_counter()
    replies = asyncio.run(
        _send_all(
            lambda: aiosmtplib.SMTP(
                hostname="127.0.0.1", port=port, use_tls=True, tls_context=client_tls
            ),
            messages,
            (token.username, token.password),
        )
    )
    accepted = len(messages) / (time.perf_counter() - started)
    queued = sorted(r.rsplit(" ", 1)[-1] for r in replies)
    arrived, deadline = [], time.monotonic() + 300
    while not set(queued) <= {m for _, m, _ in arrived} and time.monotonic() < deadline:
        time.sleep(0.05)
        arrived += sink.take()
    time.sleep(0.5)  # a second copy, were one sent, would arrive by now
    arrived += sink.take()
    problems = []
    got = sorted(mid for _, mid, _ in arrived)
    if got != queued:
        problems.append(
            f"{len(got)} messages reached the sink for {len(queued)} accepted "
            f"({len(set(got))} distinct): not each exactly once"
        )
    last = max((at for _, _, at in arrived), default=time.time())
    return len(messages) / (last - started_epoch), accepted, problems


def run() -> bool:
    from .common import run_alone

    # The run points the one sending pool at its own sink: a second run at once would take
    # the first's mail. The second waits for the first.
    with run_alone(NAME, RUN_LOCK):
        return _run()


def _run() -> bool:
    from bench.send_throughput import Sink, build_messages
    from tests.integration.servers import free_port, wait_for_port
    from transactional.credentials import services
    from transactional.smtp import tls

    from .common import bench_line

    messages = build_messages(MESSAGES, FROM, RECIPIENTS, SEED)
    sizes = [len(m["raw"]) for m in messages]
    print(
        f"messages: {len(messages):,}, {sum(sizes) / 2**20:.0f} MB, sizes {min(sizes):,}-"
        f"{max(sizes):,} B, one recipient each; {CLIENTS} clients, {WORKERS} pool workers"
    )
    sink = Sink()
    _pool(sink)
    _drain(sink)
    token = services.smtp_token_create("bench", None)
    workdir = Path(tempfile.mkdtemp(prefix="smtp-api-bench-"))
    cert, key = tls.self_signed(workdir)
    client_tls = ssl.create_default_context(cafile=cert)
    env = _env(cert, key)
    port, tls_port = free_port(), free_port()
    server = subprocess.Popen(
        [sys.executable, "manage.py", "smtp_api", "--host", "127.0.0.1"]
        + ["--port", str(port), "--tls-port", str(tls_port)]
        + (
            ["--threads", os.environ["BENCH_SMTP_API_THREADS"]]
            if "BENCH_SMTP_API_THREADS" in os.environ
            else []
        ),
        env=env,
        stdout=subprocess.DEVNULL,
    )
    with open(workdir / "worker.log", "w") as log:
        worker = subprocess.Popen([sys.executable, *WORKER], env=env, stdout=log, stderr=log)
    proxy_port = free_port()
    proxy = subprocess.Popen(
        [sys.executable, "-m", "bench.smtp_api", "proxy", str(proxy_port), str(sink.port)]
        + [str(cert), str(key)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    ok = True
    try:
        if proxy.stdout.readline().strip() != "ready":
            raise RuntimeError("the floor's proxy did not start")
        wait_for_port(tls_port, server, timeout=30)
        raw_rate(sink, messages[:100])  # warm-up
        api_rate(sink, messages[:100], tls_port, token, client_tls)
        proxy_rate(sink, messages[:100], proxy_port, client_tls)
        refs, rates, accepts, floors = [], [], [], []
        for n in range(RUNS):
            refs.append(raw_rate(sink, messages))
            rate, accepted, problems = api_rate(sink, messages, tls_port, token, client_tls)
            rates.append(rate)
            accepts.append(accepted)
            floors.append(proxy_rate(sink, messages, proxy_port, client_tls))
            print(
                f"run {n + 1}: ref {refs[-1]:,.0f} msgs/s; SMTP API {rate:,.0f} msgs/s "
                f"delivered ({accepted:,.0f} msgs/s accepted); floor {floors[-1]:,.0f} msgs/s"
            )
            for problem in problems:
                print(f"FAIL {problem}")
                ok = False
    finally:
        worker.terminate()  # a warm shutdown: the jobs at hand are finished
        worker.wait(timeout=60)
        server.terminate()
        server.wait(timeout=30)
        proxy.stdin.close()
        proxy.wait(timeout=30)
        sink.stop()
        _drop_jobs()
    ref, value = statistics.median(refs), statistics.median(rates)
    share = value / ref
    verdict = "meets" if share >= TARGET_SHARE else "MISSES"
    floor = statistics.median(floors)
    print(
        f"floor (a pass-through proxy, nothing stored): {floor / ref:.2f} of raw aiosmtplib; "
        f"SMTP API / floor: {value / floor:.2f}"
    )
    print(f"SMTP API: {share:.2f} of raw aiosmtplib ({verdict} the target of {TARGET_SHARE})")
    print(bench_line(NAME, value, "msgs/s", ref, TARGET))
    return ok


def _drain(sink) -> None:
    """Forget what an interrupted run (or anything else in this database) left unsent: a
    deferred row falling due mid-run would reach the sink uncounted."""
    from mailboxes.constants import SendSource, SendStatus
    from mailboxes.models import Outbound

    Outbound.objects.filter(source=SendSource.TRANSACTIONAL).exclude(
        status__in=[SendStatus.SENT, SendStatus.FAILED, SendStatus.CANCELLED]
    ).update(status=SendStatus.CANCELLED, claimed_at=None)
    _drop_jobs()
    sink.take()


def _drop_jobs() -> None:
    """The jobs the worker did not take (the webhooks' of an endpoint left configured)."""
    import redis

    redis.Redis.from_url(os.environ["REDIS_URL"]).delete("transactional")


if __name__ == "__main__":
    if sys.argv[1:2] == ["proxy"]:
        proxy_main(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5])
