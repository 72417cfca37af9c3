"""Run the fault runs: `python -m faults` runs them all, `python -m faults send_kill` one.

On PostgreSQL (FAULTS_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/crm_mail_faults,
created and migrated when missing) and Redis (FAULTS_REDIS_URL, default
redis://127.0.0.1:6379/13), with a private Dovecot (Debian package dovecot-imapd, installed
when it can be, asked for when not: bench/tools.py). Exits non-zero when a run duplicates or
loses email, leaves a row unsettled, or crashes, and at once when what it needs is missing.
"""

import logging
import os
import random
import shutil
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path

from bench import tools
from bench.common import configure_environment, setup_django

from . import RUNS, Run

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/crm_mail_faults"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/13"
RUN_LOCK = 1_100_001  # a PostgreSQL advisory lock id: send_due sends every due row of the database
OWNER = "faults-rep"
INBOX = "rep@faults.test"
RECIPIENTS = [f"client{n}@clients.faults.test" for n in range(20)]
# Limits high enough never to hold mail back here.
NO_LIMIT = {"send_per_minute": 1_000_000, "send_per_day": 1_000_000}


def main(argv: list[str]) -> int:
    names = argv or list(RUNS)
    unknown = [n for n in names if n not in RUNS]
    if unknown:
        print(f"faults: unknown run(s) {', '.join(unknown)}; known: {', '.join(RUNS)}")
        return 2
    tools.ensure([tools.DOVECOT], who="make faults")
    configure_environment(
        os.environ.get("FAULTS_DATABASE_URL", DEFAULT_DATABASE_URL),
        os.environ.get("FAULTS_REDIS_URL", DEFAULT_REDIS_URL),
    )
    tools.ensure_servers(os.environ["DATABASE_URL"], os.environ["REDIS_URL"], who="make faults")
    setup_django()
    # aiosmtpd logs every SMTP line, and warns of AUTH without TLS (loopback only here) on
    # every connection.
    logging.getLogger("mail.log").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="aiosmtpd")
    failed = []
    for name in names:
        print(f"== {name}: {RUNS[name].what} ==", flush=True)
        try:
            ok = locked(name, RUNS[name])
        except Exception as exc:
            print("".join(traceback.format_exception(exc)), end="")
            print(f"FAIL {name}: crashed")
            ok = False
        if not ok:
            failed.append(name)
    if failed:
        print(f"faults: FAILED: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def locked(name: str, run: Run) -> bool:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [RUN_LOCK])
        if not cursor.fetchone()[0]:
            print("another fault run holds the database; waiting for it")
            cursor.execute("SELECT pg_advisory_lock(%s)", [RUN_LOCK])
    try:
        return run_one(name, run)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [RUN_LOCK])


def run_one(name: str, run: Run) -> bool:
    from tests.integration import servers
    from tests.mailboxes.inboxes import imap_mailbox

    from . import harness

    binary = servers.find_dovecot()
    if binary is None:
        print("FAIL dovecot is not installed (Debian package dovecot-imapd)")
        return False
    broker_url = os.environ["REDIS_URL"]
    harness.purge(broker_url)
    owner = prepare()
    dovecot = servers.start_dovecot(binary)
    handler = harness.dropping_sink(run.drop_every) if run.drop_every else None
    sink = servers.start_smtp_sink(handler=handler)
    try:
        inbox = imap_mailbox(owner, dovecot.add_account(), sink, email=INBOX, **NO_LIMIT)
        started = time.perf_counter()
        ids = harness.queue_emails(owner, inbox, RECIPIENTS, run.sends)
        took = time.perf_counter() - started
        print(f"  queued {len(ids):,} emails through the composer's path in {took:.1f} s")
        log_dir = Path(tempfile.mkdtemp(prefix="crm-faults-"))
        outcome = harness.run_sends(
            ids, sink, broker_url, log_dir, run.kills, run.settle_seconds, random.Random()
        )
        if run.drop_every:
            dropped = handler.data_commands // run.drop_every
            print(f"  the sink dropped the connection instead of its 250 {dropped} times")
        print("\n".join(outcome.report()))
        if outcome.ok:
            shutil.rmtree(log_dir)
        else:
            print(f"  worker logs: {log_dir}")
    finally:
        sink.controller.stop()
        servers.stop_dovecot(dovecot)
    print(outcome.tally.line(name), flush=True)
    return outcome.ok


def prepare():
    """The rep and the contacts the emails go to (kept between runs); clear earlier runs' email."""
    from mailboxes.models import EmailMessage, EmailThread, Mailbox, Outbound
    from records.constants import Seat
    from records.models import Contact, ContactEmail, User
    from records.services import contact_save

    owner, _ = User.objects.get_or_create(
        username=OWNER,
        defaults={"first_name": "Fay", "last_name": "Faults", "seat": Seat.SALES, "password": "!"},
    )
    known = set(ContactEmail.objects.values_list("address", flat=True))
    for n, address in enumerate(RECIPIENTS):
        if address not in known:
            contact_save(
                Contact(first_name=f"Client{n}", last_name="Faults", owner=owner), [address]
            )
    # The database is the runs' own: no email of an earlier, interrupted run may go out now.
    old = EmailMessage.objects.filter(mailbox__in=Mailbox.objects.filter(owner=owner))
    threads = set(old.values_list("thread_id", flat=True))
    old.delete()  # cascades to Outbound
    EmailThread.objects.filter(pk__in=threads, messages__isnull=True).delete()
    if Outbound.objects.exists():
        raise RuntimeError("the fault database holds email not sent by the fault runs")
    return owner


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
