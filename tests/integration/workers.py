"""A real Celery worker in a subprocess on the test database and the product's broker, for
the tests that need one (tests/integration/test_queues.py,
tests/transactional/test_single_send_fast.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

from django.db import connection
from kombu import Connection

from tests.integration.servers import stop_process_group

ROOT = Path(__file__).resolve().parents[2]
CELERY_WORKER = [sys.executable, "-m", "celery", "-A", "crm_mail", "worker"]
WORKER_OPTIONS = ["--without-mingle", "--without-gossip", "--loglevel=info"]


class Worker:
    """`celery worker -Q <queue> --concurrency=1` in a subprocess on the test database."""

    def __init__(self, queue: str, log_dir: Path) -> None:
        db = connection.settings_dict
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "crm_mail.settings",
            "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:"
            f"{db['PORT'] or 5432}/{db['NAME']}",
        }
        self.queue = queue
        self.log = log_dir / f"worker-{queue}.log"
        name = f"--hostname={queue}-{uuid.uuid4().hex[:8]}@%h"
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [*CELERY_WORKER, "-Q", queue, "--concurrency=1", name, *WORKER_OPTIONS],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: the pool child goes with it
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_ready(self, timeout: float = 60.0) -> None:
        wait_until(lambda: " ready." in self.output(), f"the {self.queue} worker", timeout, [self])

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            raise AssertionError(f"the {self.queue} worker exited:\n{self.output()}")

    def stop(self) -> None:
        stop_process_group(self.process, grace=10)


def wait_until(condition, what: str, timeout: float, workers=()) -> float:
    """Poll `condition` until true; return the seconds it took."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if condition():
            return time.monotonic() - started
        for worker in workers:
            worker.check_alive()
        time.sleep(0.05)
    logs = "\n".join(f"--- {w.queue} worker:\n{w.output()[-3000:]}" for w in workers)
    raise AssertionError(f"waited {timeout} s for {what}\n{logs}")


def purge(broker: Connection, *queues: str) -> None:
    """Empty the queues of what an interrupted earlier run may have left."""
    for queue in queues:
        broker.default_channel.queue_purge(queue)
