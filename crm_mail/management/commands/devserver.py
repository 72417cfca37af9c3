"""Run the whole product on one machine for trying it out: web server, Celery worker and beat,
and the SMTP API server (`manage.py smtp_api`, on loopback ports, STARTTLS and implicit TLS,
with a development certificate made in var/smtp-api/ when none is configured).

Each runs in a process of its own, watched by this one: a worker, beat or SMTP API server that
exits is started again, and the runner says so in its output (a web server that exits ends the
run: it would only fail again, on a port in use say). Ctrl-C or SIGTERM stops them all.

With the embedded defaults the broker is kombu's SQLAlchemy transport on var/broker.sqlite3
(crm_mail/broker.py), prepared here before anything else starts and pruned now and then, so no
Redis is needed; with REDIS_URL set the same command uses Redis. One worker consumes every
queue (settings.CRM_QUEUES); production runs a worker per queue (docker-compose.yml).
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from crm_mail import broker
from crm_mail.catcher import start_catcher
from crm_mail.celery import app as celery_app
from records.demo import DEMO_PASSWORD, DEMO_USERS
from transactional.smtp import tls

# A process that exits sooner than this after its start is started again only after a pause
# that doubles each time, up to MAX_PAUSE: a worker that cannot start must not spin.
QUICK_EXIT = 10.0
MAX_PAUSE = 30.0
# How often the embedded broker's taken messages are deleted.
PRUNE_EVERY = 300.0
CELERY = [sys.executable, "-m", "celery", "-A", "crm_mail"]


class Child:
    """One process of the run, in a session of its own so that stopping it stops what it
    started too (runserver's autoreloader serves from a child process)."""

    def __init__(self, name: str, argv: list[str]):
        self.name = name
        self.argv = argv
        self.process: subprocess.Popen | None = None
        self.started_at = 0.0
        self.quick_exits = 0
        self.restart_at: float | None = None

    def start(self) -> int:
        self.process = subprocess.Popen(self.argv, cwd=settings.BASE_DIR, start_new_session=True)
        self.started_at = time.monotonic()
        self.restart_at = None
        return self.process.pid

    def exit_status(self) -> int | None:
        """The status it exited with, once; None while it runs or waits to start again."""
        if self.process is None or self.restart_at is not None:
            return None
        return self.process.poll()

    def schedule_restart(self) -> float:
        """When to start it again: at once after a long run, later after quick exits."""
        if time.monotonic() - self.started_at < QUICK_EXIT:
            self.quick_exits += 1
        else:
            self.quick_exits = 0
        pause = min(MAX_PAUSE, 2.0 ** (self.quick_exits - 1)) if self.quick_exits else 0.0
        self.restart_at = time.monotonic() + pause
        return pause

    def stop(self, timeout: float = 10.0) -> None:
        if self.process is None:
            return
        self._signal(signal.SIGTERM)  # Celery's warm shutdown; runserver just exits
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
        self._signal(signal.SIGKILL)  # whatever is left of its session
        self.process.wait()

    def _signal(self, signum: int) -> None:
        try:
            os.killpg(self.process.pid, signum)
        except ProcessLookupError:
            pass


def describe(status: int) -> str:
    if status < 0:
        return f"was killed by {signal.Signals(-status).name}"
    return f"exited with status {status}"


class Command(BaseCommand):
    help = "Start the web server with a Celery worker and beat beside it, and keep them running."

    def add_arguments(self, parser):
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")

    def say(self, line: str, style=None) -> None:
        self.stdout.write(style(line) if style else line)
        self.stdout.flush()

    def handle(self, *args, addrport, **options):
        queues = settings.CRM_QUEUES
        if broker.is_embedded():
            broker.prepare(celery_app, queues)
        web = Child("web server", [sys.executable, "manage.py", "runserver", addrport])
        worker = Child(
            "Celery worker",
            [
                *CELERY,
                "worker",
                "--pool=solo",
                f"--queues={','.join(queues)}",
                "--loglevel=warning",
            ],
        )
        beat = Child("Celery beat", [*CELERY, "beat", "--loglevel=warning"])
        smtp_api = Child("SMTP API server", [sys.executable, "manage.py", "smtp_api"])
        host, port = addrport.split(":")[0], addrport.rsplit(":", 1)[-1]
        catcher = start_catcher(settings.CRM_MAIL_CATCHER_DIR, port=settings.CRM_MAIL_CATCHER_PORT)
        # SIGTERM stops the run as Ctrl-C does, so the three processes go with it.
        signal.signal(signal.SIGTERM, signal.default_int_handler)
        try:
            self.say(f"\n  CRM Mail is starting on http://{host}:{port}/\n", self.style.SUCCESS)
            self.say(
                f"  Demo logins, password {DEMO_PASSWORD!r}: " + ", ".join(u[0] for u in DEMO_USERS)
            )
            self.say(f"  The web server (pid {web.start()}) serves http://{host}:{port}/")
            self.say(
                f"  The Celery worker (pid {worker.start()}) consumes the queues "
                f"{', '.join(queues)}."
            )
            self.say(f"  The Celery beat (pid {beat.start()}) queues the periodic jobs.")
            self.say(
                f"  The SMTP API server (pid {smtp_api.start()}) serves {self.smtp_api_address()}"
            )
            self.say("  The worker, beat and SMTP API server are started again whenever one exits.")
            self.say(
                f"  Mail from the demo inboxes is caught at http://{host}:{port}/dev/mail/ "
                "(admins only)\n"
            )
            return self.watch(web, [worker, beat, smtp_api])
        except KeyboardInterrupt:
            return None
        finally:
            for child in (web, worker, beat, smtp_api):
                child.stop()
            catcher.stop()

    def smtp_api_address(self) -> str:
        """Where the SMTP API listens and with which certificate: the configured one, else a
        self-signed one for localhost and 127.0.0.1, made here before the server starts."""
        host = settings.SMTP_API_HOST
        if settings.SMTP_API_CERT_FILE and settings.SMTP_API_KEY_FILE:
            cert = settings.SMTP_API_CERT_FILE
        elif not settings.DEBUG:
            cert = "none: set CRM_SMTP_API_CERT_FILE and CRM_SMTP_API_KEY_FILE"
        else:
            cert, _ = tls.self_signed(Path(settings.VAR_DIR) / "smtp-api")
            cert = f"{cert} (self-signed, for development)"
        return (
            f"{host}:{settings.SMTP_API_PORT} (STARTTLS) and {host}:{settings.SMTP_API_TLS_PORT} "
            f"(implicit TLS), certificate {cert}"
        )

    def watch(self, web: Child, restartable: list[Child]) -> None:
        pruned_at = time.monotonic()
        while True:
            time.sleep(0.5)
            status = web.exit_status()
            if status is not None:
                self.say(f"The web server {describe(status)}; stopping.", self.style.ERROR)
                sys.exit(status or 1)
            for child in restartable:
                self.keep_running(child)
            if broker.is_embedded() and time.monotonic() - pruned_at > PRUNE_EVERY:
                broker.prune()
                pruned_at = time.monotonic()

    def keep_running(self, child: Child) -> None:
        status = child.exit_status()
        if status is not None:
            pid = child.process.pid
            pause = child.schedule_restart()
            later = f" in {pause:.0f} s" if pause else ""
            self.say(
                f"The {child.name} (pid {pid}) {describe(status)}; starting it again{later}.",
                self.style.WARNING,
            )
        if child.restart_at is not None and time.monotonic() >= child.restart_at:
            self.say(f"The {child.name} (pid {child.start()}) is running again.")
