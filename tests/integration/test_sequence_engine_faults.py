"""Each sequence step runs exactly once under faults: two real Celery workers on the
"sequences" queue ticking at once, beat killed and started again, and one of the workers
killed (SIGKILL) in the middle of a pass. Every step then ran once, in full: its StepRun, its
email in the outbox and its line of history, or none of them; the SMTP sink never gets a
Message-ID twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone
from kombu import Connection

from mailboxes import jobs
from mailboxes.constants import SendSource
from mailboxes.models import Outbound
from sequences.constants import EnrollmentStatus, EventKind
from sequences.models import Enrollment, EnrollmentEvent, StepRun
from tests.factories import ContactFactory
from tests.integration.test_queues import Worker, publish, purge, wait_until
from tests.mailboxes.inboxes import imap_mailbox
from tests.mailboxes.outbox import header
from tests.sequences.engine_setup import email_step, enroll, make_sequence
from tests.servers import server_missing

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning"),
    pytest.mark.timeout(300),
]
ROOT = Path(__file__).resolve().parents[2]
CELERY = [sys.executable, "-m", "celery", "-A", "crm_mail"]
ENROLLMENTS = 200
STEPS = 2


class Beat:
    """`celery beat` in a subprocess on the test database, with a schedule file of its own."""

    def __init__(self, log_dir: Path) -> None:
        db = connection.settings_dict
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "crm_mail.settings",
            "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:"
            f"{db['PORT'] or 5432}/{db['NAME']}",
        }
        self.log = log_dir / f"beat-{uuid.uuid4().hex[:8]}.log"
        schedule = log_dir / "celerybeat-schedule"
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [*CELERY, "beat", f"--schedule={schedule}"],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def kill(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()


def kill(worker: Worker) -> None:
    """SIGKILL the worker and its pool child: no warm shutdown, no rollback by the worker."""
    os.killpg(worker.process.pid, signal.SIGKILL)
    worker.process.wait()


@pytest.mark.django_db(transaction=True)
def test_two_tick_workers_a_beat_restart_and_a_killed_worker_run_each_step_once(
    redis_url, owner, dovecot, smtp_sink, tmp_path
):
    if connection.vendor != "postgresql":
        server_missing("PostgreSQL (the workers are other processes on the same database)")
    inbox = imap_mailbox(owner, dovecot, smtp_sink, send_per_minute=30, send_per_day=5000)
    # Two emails with no delay between them: the second falls due as the first runs.
    sequence = make_sequence(
        owner, [email_step(), email_step(delay_days=0)], business_days_only=False
    )
    later = timezone.now() + timedelta(days=1)
    for n in range(ENROLLMENTS):
        contact = ContactFactory(owner=owner, first_name=f"P{n}", emails=[f"p{n}@acme.example"])
        enroll(sequence, contact, inbox, later)

    broker = Connection(redis_url)
    purge(broker, "sequences", "send")
    first, second = Worker("sequences", tmp_path), Worker("sequences", tmp_path)
    sender = Worker("send", tmp_path)
    workers = [first, second, sender]
    beat = Beat(tmp_path)
    try:
        for worker in workers:
            worker.wait_ready()
        Enrollment.objects.update(due_at=timezone.now())
        # Beside beat's ticks, some at once, so that both workers tick together.
        for _ in range(4):
            publish(broker, jobs.SEQUENCE_TICK, ())
        wait_until(lambda: StepRun.objects.count() >= 40, "steps to run", 60.0, workers)
        # Mid-pass: one worker dies, and beat dies and is started again.
        kill(first)
        beat.kill()
        beat = Beat(tmp_path)
        done = ENROLLMENTS * STEPS
        wait_until(lambda: StepRun.objects.count() >= done, "every step", 120.0, [second])
        wait_until(lambda: len(smtp_sink.messages) >= 3, "sequence email to go out", 60.0)
    finally:
        beat.kill()
        for worker in workers:
            if worker.process.poll() is None:
                worker.stop()
        purge(broker, "sequences", "send", "sync", "bodies", "housekeeping", "celery")
        broker.release()

    runs = StepRun.objects.all()
    assert runs.count() == done
    assert not runs.filter(outbound__isnull=True).exists(), "a step ran without its email"
    per_enrollment = Counter(
        Outbound.objects.filter(source=SendSource.SEQUENCE).values_list("source_id", flat=True)
    )
    assert set(per_enrollment.values()) == {STEPS} and len(per_enrollment) == ENROLLMENTS
    ran = EnrollmentEvent.objects.filter(kind=EventKind.STEP_RAN)
    assert ran.count() == done
    assert set(Enrollment.objects.values_list("status", "next_position")) == {
        (EnrollmentStatus.FINISHED, STEPS)
    }
    sent = [header(m.data, "Message-ID") for m in smtp_sink.messages]
    assert len(sent) == len(set(sent)), "an email went out twice"
    ours = set(Outbound.objects.values_list("message__message_id", flat=True))
    assert set(sent) <= ours
