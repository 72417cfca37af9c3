"""`manage.py smtp_api`: the SMTP API server, until SIGTERM or Ctrl-C."""

import logging
import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand

from transactional.smtp import server, tls


class Command(BaseCommand):
    help = "Serve the SMTP API: STARTTLS and implicit TLS ports, AUTH with SMTP tokens."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=settings.SMTP_API_HOST)
        parser.add_argument("--port", type=int, default=settings.SMTP_API_PORT)
        parser.add_argument("--tls-port", type=int, default=settings.SMTP_API_TLS_PORT)
        parser.add_argument("--threads", type=int, default=None, help="database threads")

    def handle(self, *args, host, port, tls_port, threads, **options):
        # aiosmtpd logs every command at INFO: a line per command is no log, and costs CPU.
        logging.getLogger("mail.log").setLevel(logging.WARNING)
        done = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: done.set())
        controllers = server.start(host, port, tls_port, tls.server_context(), threads=threads)
        self.stdout.write(
            f"SMTP API on {host}: {port} (STARTTLS), {tls_port} (implicit TLS)", ending="\n"
        )
        self.stdout.flush()
        try:
            done.wait()
        finally:
            server.stop(controllers)
