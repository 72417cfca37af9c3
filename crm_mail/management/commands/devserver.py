"""Run the whole product on one machine for trying it out: web server, Celery worker and beat.

With the embedded defaults the broker is kombu's filesystem transport under var/broker (its
folders are made by crm_mail's AppConfig.ready), so no Redis is needed; with REDIS_URL set the
same command uses Redis. One worker consumes every queue (settings.CELERY_TASK_ROUTES) and the
default one; production runs a worker per queue (docker-compose.yml).
"""

import os
import subprocess
import sys

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from crm_mail.catcher import start_catcher
from records.demo import DEMO_PASSWORD, DEMO_USERS


class Command(BaseCommand):
    help = "Start the web server with a Celery worker and beat beside it."

    def add_arguments(self, parser):
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")

    def handle(self, *args, addrport, **options):
        # Django's autoreloader re-runs this command in a child; start the worker only once.
        worker = None
        if os.environ.get("RUN_MAIN") != "true":
            worker = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "crm_mail",
                    "worker",
                    "--beat",
                    "--pool=solo",
                    f"--queues={','.join(worker_queues())}",
                    "--loglevel=warning",
                ],
                cwd=settings.BASE_DIR,
            )
            host = addrport.split(":")[0]
            port = addrport.rsplit(":", 1)[-1]
            self.stdout.write(
                self.style.SUCCESS(f"\n  CRM Mail is starting on http://{host}:{port}/\n")
            )
            self.stdout.write(
                f"  Demo logins, password {DEMO_PASSWORD!r}: " + ", ".join(u[0] for u in DEMO_USERS)
            )
            self.stdout.write(
                f"  Celery worker (queues {', '.join(worker_queues())}) and beat run beside "
                "the web server."
            )
            catcher_dir = settings.CRM_MAIL_CATCHER_DIR
            start_catcher(catcher_dir, port=settings.CRM_MAIL_CATCHER_PORT)
            self.stdout.write(
                f"  Mail from the demo inboxes is caught at http://{host}:{port}/dev/mail/ "
                "(admins only)\n"
            )
        try:
            call_command("runserver", addrport)
        finally:
            if worker is not None:
                worker.terminate()
                worker.wait(timeout=10)


def worker_queues() -> list[str]:
    """Every queue a task is routed to, then the default queue, each once."""
    routed = [route["queue"] for route in settings.CELERY_TASK_ROUTES.values()]
    return list(dict.fromkeys([*routed, settings.CELERY_TASK_DEFAULT_QUEUE]))
