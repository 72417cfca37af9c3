"""`make run`'s stack as a new user gets it: the runner (`manage.py devserver`) starting the web
server, a Celery worker and beat on the embedded broker, and the SMTP API server, on a fresh var
dir with no DATABASE_URL or REDIS_URL.

The emails go through the composer of the running web server, as a rep sends them, to the demo
inbox's catcher. Beat's heartbeat runs every second here (CRM_HEARTBEAT_SECONDS), so /health/
notices a stopped worker within seconds.
"""

from __future__ import annotations

import json
import os
import re
import signal
import smtplib
import ssl
import subprocess
import sys
import time
from collections import Counter
from email import message_from_bytes
from email.policy import compat32
from pathlib import Path

import pytest
import requests

from mailboxes.demo import EMAILS as DEMO_EMAILS
from tests.integration.servers import free_port, wait_for_port

pytestmark = pytest.mark.timeout(300)
ROOT = Path(__file__).resolve().parents[2]
EMAILS = 50
HEARTBEAT_SECONDS = 1
# What a person gets in the repository folder from `make run`: nothing beyond var/.
RUNTIME_LEFTOVERS = ("control", "celerybeat-schedule", "broker.sqlite3", "db.sqlite3")
# The demo contact, inbox and composer URL the emails use, read through the ORM. The inbox
# may send them all within a minute: by default it holds back what passes 20 a minute.
DEMO_TARGET = f"""
import json
from django.urls import reverse
from mailboxes.models import Mailbox
from records.models import ContactEmail
box = Mailbox.objects.get(owner__username="admin")
Mailbox.objects.filter(pk=box.pk).update(send_per_minute={EMAILS + 10})
address = ContactEmail.objects.select_related("contact").order_by("pk").first()
print(json.dumps({{
    "compose": reverse("mailboxes:compose", args=["contacts", address.contact_id]),
    "from_key": f"{{box.pk}}:{{box.email}}",
    "to": address.address,
}}))
"""


# An SMTP API token of the demo admin, and the sending pool relaying to the demo mail catcher
# (loopback, no TLS), so a message sent through the SMTP API arrives there.
SMTP_API_TOKEN = """
import json
from django.conf import settings
from records.models import User
from transactional.credentials import services
from transactional.pool.models import SendingPool
pool = SendingPool.load()
pool.enabled, pool.host, pool.security = True, "127.0.0.1", "none"
pool.port = settings.CRM_MAIL_CATCHER_PORT
pool.from_address = "receipts@shop.test"
pool.save()
token = services.smtp_token_create("Stack", User.objects.get(username="admin"))
print(json.dumps([token.username, token.password]))
"""


# Whether the reports still have emails to roll up (the worker's refresh job, every 15 s).
REPORTS_PENDING = """
from mailboxes.models import ReportDirty
print(ReportDirty.objects.exists())
"""


class Stack:
    """The runner in a subprocess, its output in a file, its var dir of its own."""

    def __init__(self, folder: Path):
        self.var = folder / "var"
        self.var.mkdir()
        self.log = folder / "devserver.log"
        self.port = free_port()
        self.env = {
            **{k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")},
            "DJANGO_ENV": "development",
            "CRM_VAR_DIR": str(self.var),
            "CRM_MAIL_CATCHER_PORT": str(free_port()),
            "CRM_HEARTBEAT_SECONDS": str(HEARTBEAT_SECONDS),
            "CRM_SMTP_API_PORT": str(free_port()),
            "CRM_SMTP_API_TLS_PORT": str(free_port()),
            "PYTHONUNBUFFERED": "1",
        }
        self.process: subprocess.Popen | None = None
        self.session = requests.Session()

    def manage(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=240,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def start(self) -> None:
        # What `make run` does before the runner (Makefile).
        self.manage("migrate", "--noinput")
        self.manage("load_demo")
        self.manage("load_demo_inboxes")
        self.manage("load_demo_sequences")
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "manage.py", "devserver", f"127.0.0.1:{self.port}"],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_for_port(self.port, self.process, timeout=120)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def pid(self, part: str) -> int:
        """The pid of the runner's current `part` ("Celery worker", "Celery beat", ...)."""
        found = re.findall(
            rf"The {part} \(pid (\d+)\) (?:serves|consumes|queues|is running)", self.output()
        )
        assert found, self.output()
        return int(found[-1])

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def health(self) -> tuple[int, dict]:
        response = requests.get(self.url("/health/"), timeout=10)
        return response.status_code, response.json()

    def wait(self, condition, what: str, timeout: float = 60.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"the runner exited:\n{self.output()[-5000:]}"
            result = condition()
            if result:
                return result
            time.sleep(0.2)
        raise AssertionError(f"waited {timeout} s for {what}\n{self.output()[-5000:]}")

    def login(self, username: str) -> None:
        self.session.get(self.url("/login/"), timeout=10)
        response = self.session.post(
            self.url("/login/"),
            data={
                "username": username,
                "password": "demo",
                "csrfmiddlewaretoken": self.session.cookies["csrftoken"],
            },
            timeout=10,
            allow_redirects=False,
        )
        assert response.status_code == 302, response.text[:2000]

    def send(self, target: dict, subject: str) -> None:
        """Send one email through the composer, as the rep's browser posts it."""
        response = self.session.post(
            self.url(target["compose"]),
            data={
                "from_key": target["from_key"],
                "to": target["to"],
                "subject": subject,
                "html": f"<p>{subject}</p>",
                "send_when": "now",
                "csrfmiddlewaretoken": self.session.cookies["csrftoken"],
            },
            timeout=30,
            allow_redirects=False,
        )
        assert response.status_code == 302, response.text[:3000]

    def caught_subjects(self) -> list[str]:
        """What the stack sent since it started: the catcher also holds mail to the demo's
        inboxes, the customer mail `load_demo_inboxes` wrote for the Support inbox and the
        answers it writes to the demo's sales emails (mailboxes/demo.py)."""
        folder = self.var / "catcher"
        caught = [message_from_bytes(p.read_bytes(), policy=compat32) for p in folder.glob("*.eml")]
        return [str(m["Subject"]) for m in caught if "@crm-demo.example" not in str(m["To"])]

    def stop(self) -> None:
        known = [
            self.pid(p) for p in ("web server", "Celery worker", "Celery beat", "SMTP API server")
        ]
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
        # Each child leads a session of its own; nothing of them may outlive the runner.
        for pid in known:
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    before = set(os.listdir(ROOT))
    running = Stack(tmp_path_factory.mktemp("stack"))
    running.start()
    try:
        yield running
    finally:
        running.stop()
    leftovers = {
        name for name in set(os.listdir(ROOT)) - before if name.startswith(RUNTIME_LEFTOVERS)
    }
    assert not leftovers, f"the run left {leftovers} in the repository folder"


def demo_target(stack: Stack) -> dict:
    # The shell's last line: it starts by saying what it imported.
    return json.loads(stack.manage("shell", "-c", DEMO_TARGET).strip().splitlines()[-1])


def healthy(stack: Stack):
    status, body = stack.health()
    return body if status == 200 else None


def test_fifty_emails_sent_on_the_embedded_stack_arrive_exactly_once(stack):
    stack.wait(lambda: healthy(stack), "/health/ to answer 200")
    target = demo_target(stack)
    stack.login("admin")
    subjects = [f"Stack check {n}" for n in range(EMAILS)]
    for subject in subjects:
        stack.send(target, subject)

    def checks() -> list[str]:
        return [s for s in stack.caught_subjects() if s.startswith("Stack check")]

    stack.wait(lambda: len(checks()) >= EMAILS, "50 emails in the catcher", 180)
    # A second delivery would come from a job run twice or a row sent again by send_due.
    time.sleep(5)
    assert sorted(checks()) == sorted(subjects)
    # And the demo's sales emails, queued when it loaded: once each, from each of two reps.
    # (The demo sequence's go out when its sending window opens: maybe not yet.)
    wanted = {subject: 2 for subject, _body, _answer in DEMO_EMAILS}
    assert Counter(s for s in stack.caught_subjects() if s in wanted) == wanted
    assert "exited" not in stack.output() and "was killed" not in stack.output()
    # The broker's files are in the var dir, and only there (see the fixture).
    assert (stack.var / "broker.sqlite3").is_file()


def kill_and_see_it_restarted(stack: Stack, part: str) -> None:
    old = stack.pid(part)
    os.kill(old, signal.SIGKILL)
    # Started again at once, or after a pause if it had run for only a few seconds.
    said = re.compile(
        rf"The {part} \(pid {old}\) was killed by SIGKILL; starting it again(?: in \d+ s)?\."
    )
    stack.wait(lambda: said.search(stack.output()), f"the runner to notice the {part} died")
    stack.wait(lambda: stack.pid(part) != old, f"the {part} to run again")
    assert f"The {part} (pid {stack.pid(part)}) is running again." in stack.output()


def test_the_runner_starts_a_killed_worker_and_beat_again_and_says_so(stack):
    kill_and_see_it_restarted(stack, "Celery worker")
    kill_and_see_it_restarted(stack, "Celery beat")

    # The new worker and beat do the work: heartbeats, and an email sent now goes out.
    stack.wait(lambda: healthy(stack), "/health/ to answer 200 again")
    stack.login("admin")
    stack.send(demo_target(stack), "After the restart")
    stack.wait(lambda: "After the restart" in stack.caught_subjects(), "the email after it")


def test_health_answers_503_with_the_reason_while_the_worker_is_stopped(stack):
    stack.wait(lambda: healthy(stack), "/health/ to answer 200")
    # A worker stopped inside a transaction would hold SQLite's one write lock, and beat
    # could not record its heartbeat either: stop it once the earlier tests' mail is rolled
    # up in the reports, and if it was caught inside one all the same (a heartbeat job or a
    # sync of its own, which a loaded machine makes longer), let it go on and stop it again.
    stack.wait(
        lambda: stack.manage("shell", "-c", REPORTS_PENDING).strip().endswith("False"),
        "the reports to have nothing left to roll up",
        60,
    )
    for _attempt in range(3):
        body = _health_with_the_worker_stopped(stack)
        if body["checks"]["beat"]["ok"]:
            break
        stack.wait(lambda: healthy(stack), "/health/ to answer 200 before stopping again", 30)
    assert body["status"] == "error"
    checks = body["checks"]
    assert checks["database"]["ok"] and checks["broker"]["ok"] and checks["beat"]["ok"]
    assert checks["workers"]["ok"] is False
    assert "queue send: no worker took a job (no heartbeat for " in checks["workers"]["error"]
    assert checks["workers"]["queues"]["send"]["last_heartbeat_seconds"] >= 4 * HEARTBEAT_SECONDS

    # Going again, the worker takes the next heartbeat.
    stack.wait(lambda: healthy(stack), "/health/ to answer 200 once the worker goes on", 30)


def _health_with_the_worker_stopped(stack: Stack) -> dict:
    """/health/'s answer once the send queue's heartbeat went stale with the worker stopped
    (each queue's goes stale in turn: they were taken at slightly different moments)."""
    worker = stack.pid("Celery worker")
    os.kill(worker, signal.SIGSTOP)
    try:
        _status, body = stack.wait(
            lambda: (
                (answer := stack.health())[0] == 503
                and "queue send:" in (answer[1]["checks"]["workers"].get("error") or "")
                and answer
            ),
            "/health/ to answer 503 for the send queue",
            30,
        )
    finally:
        os.kill(worker, signal.SIGCONT)
    return body


def submit(stack: Stack, port: int, token: list[str], subject: str) -> tuple[int, bytes]:
    """One message through the runner's SMTP API: STARTTLS trusting its development
    certificate, AUTH with the token; the answer to DATA."""
    context = ssl.create_default_context(cafile=stack.var / "smtp-api" / "cert.pem")
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        client.starttls(context=context)
        client.login(*token)
        client.mail("receipts@shop.test")
        client.rcpt("ada@client.test")
        return client.data(
            f"From: receipts@shop.test\r\nTo: ada@client.test\r\nSubject: {subject}\r\n"
            "\r\nThanks!\r\n".encode()
        )


def smtp_api_listens(port: int) -> bool:
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=5) as client:
            return client.noop()[0] == 250
    except OSError:
        return False


def test_the_runner_serves_the_smtp_api_with_a_development_certificate(stack):
    port, tls_port = stack.env["CRM_SMTP_API_PORT"], stack.env["CRM_SMTP_API_TLS_PORT"]
    cert = stack.var / "smtp-api" / "cert.pem"
    said = (
        f"serves 127.0.0.1:{port} (STARTTLS) and 127.0.0.1:{tls_port} (implicit TLS), "
        f"certificate {cert} (self-signed, for development)"
    )
    assert said in stack.output()
    stack.wait(lambda: smtp_api_listens(int(port)), "the SMTP API to answer")
    token = json.loads(stack.manage("shell", "-c", SMTP_API_TOKEN).strip().splitlines()[-1])

    code, reply = submit(stack, int(port), token, "Through the SMTP API")
    assert code == 250 and reply.startswith(b"2.0.0 Ok: queued as <"), reply
    # The worker sends it through the sending pool, to the catcher here.
    stack.wait(
        lambda: "Through the SMTP API" in stack.caught_subjects(), "the message in the catcher"
    )

    # Killed, it is started again, and takes the next message.
    kill_and_see_it_restarted(stack, "SMTP API server")
    stack.wait(lambda: smtp_api_listens(int(port)), "the SMTP API to answer again")
    code, reply = submit(stack, int(port), token, "After the SMTP API restart")
    assert code == 250, reply
    stack.wait(
        lambda: "After the SMTP API restart" in stack.caught_subjects(),
        "the message after the restart in the catcher",
    )
