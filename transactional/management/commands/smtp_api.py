"""`manage.py smtp_api`: the SMTP API server, until SIGTERM or Ctrl-C.

`--processes N` (default: CRM_SMTP_API_PROCESSES, 1; always 1 on SQLite) forks N server processes
that share the ports (SO_REUSEPORT), so TLS, MIME work and the stores of many clients use
more than one core; the first process forwards SIGTERM to the others and waits for them.
"""

import logging
import os
import signal
import sys
import threading
import traceback

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import connection, connections

from transactional.smtp import server, tls

SWITCH_INTERVAL = 0.0005  # seconds


class Command(BaseCommand):
    help = "Serve the SMTP API: STARTTLS and implicit TLS ports, AUTH with SMTP tokens."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=settings.SMTP_API_HOST)
        parser.add_argument("--port", type=int, default=settings.SMTP_API_PORT)
        parser.add_argument("--tls-port", type=int, default=settings.SMTP_API_TLS_PORT)
        parser.add_argument("--threads", type=int, default=None, help="database threads")
        parser.add_argument(
            "--processes",
            type=int,
            default=settings.SMTP_API_PROCESSES,
            help="server processes sharing the ports",
        )

    def handle(self, *args, host, port, tls_port, threads, processes, **options):
        # aiosmtpd logs every command at INFO: a line per command is no log, and costs CPU.
        logging.getLogger("mail.log").setLevel(logging.WARNING)
        # SQLite has one writer: more processes would only wait for each other.
        processes = 1 if connection.vendor == "sqlite" else max(1, processes)
        context = tls.server_context()
        connections.close_all()  # nothing opened before the fork is shared by the children
        children = []
        for _ in range(processes - 1):
            pid = os.fork()
            if pid == 0:
                code = 1
                try:
                    self.serve(host, port, tls_port, context, threads, shared=True)
                    code = 0
                except BaseException:
                    traceback.print_exc()
                finally:
                    os._exit(code)
            children.append(pid)
        try:
            self.serve(host, port, tls_port, context, threads, processes > 1, announce=True)
        finally:
            for pid in children:
                try:
                    os.kill(pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
            for pid in children:
                os.waitpid(pid, 0)

    def serve(self, host, port, tls_port, context, threads, shared, announce=False) -> None:
        # The database threads wait on PostgreSQL some thirty times a batch; each time they
        # want the interpreter lock back while the event loop's thread works (TLS, DATA), and
        # by default wait out its 5 ms switch interval: a batch took five times its work.
        sys.setswitchinterval(SWITCH_INTERVAL)
        done = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: done.set())
        controllers = server.start(
            host, port, tls_port, context, threads=threads, reuse_port=shared
        )
        if announce:
            self.stdout.write(
                f"SMTP API on {host}: {port} (STARTTLS), {tls_port} (implicit TLS)", ending="\n"
            )
            self.stdout.flush()
        try:
            done.wait()
        finally:
            server.stop(controllers)
