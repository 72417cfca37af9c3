"""The outbound worker against a real aiosmtpd sink and a real Dovecot: send once, retry,
fail, wait for the inbox's limits, re-check privacy, scheduled sends, cancel and send now."""

from __future__ import annotations

import threading
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.db import close_old_connections, connection
from django.db.backends.signals import connection_created
from django.db.models import F
from django.utils import timezone

from mailboxes import jobs
from mailboxes.constants import SendStatus, SentCopy
from mailboxes.models import Mailbox, Outbound, SendCounter
from mailboxes.outbox import copies, outcomes, reconcile, sending, throttle
from mailboxes.outbox.actions import (
    outbound_cancel,
    outbound_mark_sent,
    outbound_send_again,
    outbound_send_now,
)
from mailboxes.outbox.sending import send_due, send_outbound
from privacy.constants import EventKind, OptOutSource
from privacy.models import PrivacyEvent
from privacy.services import opt_out_of_all
from records.models import Activity, ActivityLink
from tests.catalogue import write_catalogue
from tests.integration.servers import free_port

from .inboxes import REP_ADDRESS, imap_mailbox
from .outbox import header, message_of, reload, sent_copies, submit

SINK_WARNING = "ignore:Requiring AUTH while not requiring TLS:UserWarning"
# Threads racing (workers, claiming ahead): a bug there shows as a hang.
RACE_TIMEOUT = pytest.mark.timeout(120)
# Tests in one transaction (never committed) see the jobs a call queues on commit by running
# it under django_capture_on_commit_callbacks(execute=True); tests that commit
# (transaction=True) queue theirs to the tests' in-memory broker (tests/conftest.py), where
# nothing runs them: each test calls the worker itself.


@pytest.fixture
def inbox(owner, dovecot, smtp_sink):
    return imap_mailbox(owner, dovecot, smtp_sink)


@pytest.fixture
def run_worker(queued_jobs, django_capture_on_commit_callbacks):
    """Run a worker call as after its commit, then the Sent copies it queued, as the
    follow-up task (`file_sent_copies`) would; return the call's result."""

    def run(call, *args, **kwargs):
        done = len(queued_jobs)
        with django_capture_on_commit_callbacks(execute=True):
            result = call(*args, **kwargs)
        for name, job in queued_jobs[done:]:
            if name == jobs.FILE_SENT_COPIES:
                copies.file_sent_copies(*job)
        return result

    return run


# -- end to end ------------------------------------------------------------------------------


@pytest.mark.integration
@pytest.mark.filterwarnings(SINK_WARNING)
@pytest.mark.django_db
def test_submitted_email_reaches_the_sink_once_and_its_copy_lands_in_sent(
    owner, contact, inbox, smtp_sink, dovecot, run_worker
):
    outbound = submit(owner, inbox, cc=["cc@partner.example"], bcc=["boss@crm.example"])
    message_id = outbound.message.message_id
    assert outbound.status == SendStatus.QUEUED

    assert run_worker(send_outbound, outbound.pk) == SendStatus.SENT

    (received,) = smtp_sink.messages
    assert received.mail_from == REP_ADDRESS
    assert sorted(received.rcpt_tos) == [
        "boss@crm.example",
        "cc@partner.example",
        "olivia@acme.example",
    ]
    assert header(received.data, "Message-ID") == message_id
    assert REP_ADDRESS in header(received.data, "From")
    assert header(received.data, "To") == "olivia@acme.example"
    assert header(received.data, "Bcc") is None  # Bcc travels in the envelope only
    assert received.login == smtp_sink.user

    ((_, copy, flags),) = sent_copies(dovecot, message_id)
    assert b"\\Seen" in flags
    assert header(copy, "Bcc") == "boss@crm.example"  # the rep's own copy keeps it

    outbound = reload(outbound)
    assert outbound.status == SendStatus.SENT
    assert outbound.attempts == 1
    assert outbound.sent_at is not None
    assert outbound.provider_id == "Q1"  # the sink's "queued as" id
    assert outbound.last_error == ""
    assert message_of(outbound).sent_at == outbound.sent_at

    # Done is done: a second task for the same row (a redelivery) sends nothing.
    assert send_outbound(outbound.pk) is None
    assert send_due() == {}
    assert len(smtp_sink.messages) == 1


@pytest.mark.integration
@pytest.mark.filterwarnings(SINK_WARNING)
@pytest.mark.django_db
def test_sent_copies_are_owed_in_the_database_and_left_to_one_follow_up_task_per_inbox(
    owner, contact, inbox, smtp_sink, dovecot, queued_jobs, django_capture_on_commit_callbacks
):
    outbounds = [submit(owner, inbox, subject=f"Note {i}") for i in range(3)]

    with django_capture_on_commit_callbacks(execute=True):
        assert send_due() == {SendStatus.SENT: 3}

    queued = queued_jobs.args_of(jobs.FILE_SENT_COPIES)
    assert queued == [(inbox.pk,)]
    # Owed with the send itself: a worker killed now leaves them for the periodic filer.
    assert {reload(o).sent_copy for o in outbounds} == {SentCopy.OWED}
    message_id = outbounds[0].message.message_id
    assert sent_copies(dovecot, message_id) == []  # not filed by the sending pass itself
    assert copies.file_sent_copies(*queued[0]) == 3
    assert len(sent_copies(dovecot, message_id)) == 1
    assert {reload(o).sent_copy for o in outbounds} == {SentCopy.FILED}
    assert Mailbox.objects.get(pk=inbox.pk).server_files_sent is False  # learned: sink files none
    assert copies.file_sent_copies(inbox.pk) == 0  # nothing owed any more


@pytest.mark.integration
@pytest.mark.django_db
def test_a_sent_copy_the_server_cannot_take_now_stays_owed_for_the_periodic_filer(
    owner, contact, dovecot, queued_jobs
):
    # The IMAP server is gone by the time the copy is to be saved.
    inbox = imap_mailbox(owner, dovecot, config={"imap_port": free_port()})
    outbound = submit(owner, inbox)
    long_ago = timezone.now() - copies.OWED_GRACE * 2
    Outbound.objects.filter(pk=outbound.pk).update(
        status=SendStatus.SENT, sent_at=long_ago, sent_copy=SentCopy.OWED
    )

    assert copies.file_sent_copies(inbox.pk) == 0

    outbound = reload(outbound)
    assert outbound.status == SendStatus.SENT
    assert outbound.sent_copy == SentCopy.OWED
    # The periodic filer finds it and queues a filer for its inbox once the server is back.
    assert copies.file_owed_copies() == 1
    assert queued_jobs.args_of(jobs.FILE_SENT_COPIES) == [(inbox.pk,)]
    Mailbox.objects.filter(pk=inbox.pk).update(config={**inbox.config, "imap_port": dovecot.port})
    assert copies.file_sent_copies(inbox.pk) == 1
    assert reload(outbound).sent_copy == SentCopy.FILED
    assert len(sent_copies(dovecot, outbound.message.message_id)) == 1


# -- provider errors ---------------------------------------------------------------------------


@pytest.mark.integration
@pytest.mark.filterwarnings(SINK_WARNING)
@pytest.mark.django_db
def test_temporary_refusal_queues_a_retry_with_backoff_then_sends(
    owner, contact, inbox, smtp_sink, dovecot, run_worker
):
    smtp_sink.refuse("olivia@acme.example", "451 4.7.1 Greylisted, try again later")
    outbound = submit(owner, inbox)
    before = timezone.now()

    assert send_outbound(outbound.pk) == "retry"

    outbound = reload(outbound)
    assert outbound.status == SendStatus.QUEUED
    assert outbound.attempts == 1
    assert "451 4.7.1 Greylisted" in outbound.last_error
    # The server's hint (5 minutes for 4xx) beats the first backoff step (1 minute).
    assert outbound.next_attempt_at >= before + timedelta(minutes=5)
    assert smtp_sink.messages == []
    assert send_due() == {}  # not due yet

    smtp_sink.handler.recipient_replies.clear()
    outbound.next_attempt_at = timezone.now()
    outbound.save(update_fields=["next_attempt_at"])
    assert run_worker(send_due) == {SendStatus.SENT: 1}
    outbound = reload(outbound)
    assert (outbound.status, outbound.attempts, outbound.last_error) == (SendStatus.SENT, 2, "")
    assert len(smtp_sink.messages) == 1
    assert len(sent_copies(dovecot, outbound.message.message_id)) == 1


@pytest.mark.integration
@pytest.mark.filterwarnings(SINK_WARNING)
@pytest.mark.django_db
def test_permanent_refusal_fails_with_the_servers_reason(owner, contact, inbox, smtp_sink):
    smtp_sink.refuse("olivia@acme.example", "550 5.1.1 No such user here")
    outbound = submit(owner, inbox)

    assert send_outbound(outbound.pk) == SendStatus.FAILED

    outbound = reload(outbound)
    assert outbound.status == SendStatus.FAILED
    assert "550 5.1.1 No such user here" in outbound.last_error
    assert smtp_sink.messages == []
    assert send_due() == {}  # failed is final until the rep sends it again


@pytest.mark.integration
@pytest.mark.filterwarnings(SINK_WARNING)
@pytest.mark.django_db
def test_recipients_refused_among_accepted_ones_are_shown_on_the_sent_email(
    owner, contact, inbox, smtp_sink
):
    smtp_sink.refuse("gone@partner.example", "550 5.1.1 No such user here")
    outbound = submit(owner, inbox, cc=["gone@partner.example"])

    assert send_outbound(outbound.pk) == SendStatus.SENT

    outbound = reload(outbound)
    assert "gone@partner.example (550 5.1.1 No such user here)" in outbound.last_error
    (received,) = smtp_sink.messages
    assert received.rcpt_tos == ["olivia@acme.example"]


@pytest.mark.integration
@pytest.mark.filterwarnings(SINK_WARNING)
@pytest.mark.django_db
def test_temporary_errors_give_up_after_the_last_attempt(owner, contact, inbox, smtp_sink):
    smtp_sink.refuse("olivia@acme.example", "452 4.2.2 Mailbox full")
    outbound = submit(owner, inbox)
    outbound.attempts = outcomes.MAX_ATTEMPTS - 1
    outbound.save(update_fields=["attempts"])

    assert send_outbound(outbound.pk) == SendStatus.FAILED

    outbound = reload(outbound)
    assert outbound.attempts == outcomes.MAX_ATTEMPTS
    assert "452 4.2.2 Mailbox full" in outbound.last_error
    assert f"Gave up after {outcomes.MAX_ATTEMPTS} attempts" in outbound.last_error


def test_backoff_grows_and_respects_the_providers_hint():
    assert outcomes.backoff(1) == timedelta(minutes=1)
    assert outcomes.backoff(2) == timedelta(minutes=5)
    assert outcomes.backoff(4) == timedelta(minutes=60)
    assert outcomes.backoff(50) == timedelta(minutes=outcomes.BACKOFF_MINUTES[-1])
    assert outcomes.backoff(1, retry_after=300) == timedelta(minutes=5)
    assert outcomes.backoff(3, retry_after=300) == timedelta(minutes=15)


@pytest.mark.integration
@pytest.mark.filterwarnings(SINK_WARNING)
@pytest.mark.django_db
def test_wrong_smtp_password_fails_the_email_and_flags_the_inbox(owner, contact, inbox, smtp_sink):
    inbox.secret = {**inbox.secret, "smtp_password": "wrong"}
    inbox.save(update_fields=["secret"])
    outbound = submit(owner, inbox)

    assert send_outbound(outbound.pk) == SendStatus.FAILED

    assert "rejected the username or password" in reload(outbound).last_error
    inbox.refresh_from_db()
    assert inbox.status == "needs_reconnect"


# -- limits -----------------------------------------------------------------------------------


def away_from_the_minute_edge(seconds: float = 20.0) -> None:
    """Wait past a minute boundary that is closer than `seconds`, so one test is one window
    (a loaded CI machine takes several seconds over the sends of one test)."""
    now = timezone.now()
    left = 60 - now.second - now.microsecond / 1e6
    if left < seconds:
        threading.Event().wait(left + 0.05)


@pytest.mark.integration
@pytest.mark.filterwarnings(SINK_WARNING)
@pytest.mark.django_db
def test_over_the_per_minute_limit_mail_waits_queued_until_the_next_minute(
    owner, contact, dovecot, smtp_sink
):
    inbox = imap_mailbox(owner, dovecot, smtp_sink, send_per_minute=2)
    outbounds = [submit(owner, inbox, subject=f"Note {i}") for i in range(5)]
    away_from_the_minute_edge()
    started = timezone.now()

    outcomes = send_due()

    assert outcomes == {SendStatus.SENT: 2, "throttled": 3}
    assert len(smtp_sink.messages) == 2
    next_minute = throttle.next_window_start(throttle.MINUTE, started)
    rows = [reload(o) for o in outbounds]
    assert [r.status for r in rows] == [SendStatus.SENT] * 2 + [SendStatus.QUEUED] * 3
    for row in rows[2:]:
        assert row.next_attempt_at == next_minute
        assert row.attempts == 0  # waiting is not a failed attempt
        assert "sending limit (2 emails a minute)" in row.last_error
    assert throttle.used(inbox, started) == {"minute": 2, "day": 2}
    assert send_due() == {}  # nothing is due before the next minute

    # A minute passes: moved into the past, this minute's window becomes the last one and
    # the waiting mail is due. Two more go, the last one waits again for the next minute.
    minute = timedelta(minutes=1)
    SendCounter.objects.filter(mailbox=inbox, window="minute").update(
        starts_at=F("starts_at") - minute
    )
    Outbound.objects.filter(status=SendStatus.QUEUED).update(
        next_attempt_at=F("next_attempt_at") - minute
    )
    assert send_due() == {SendStatus.SENT: 2, "throttled": 1}
    assert reload(outbounds[4]).next_attempt_at == next_minute
    windows = SendCounter.objects.filter(mailbox=inbox, window="minute").order_by("starts_at")
    assert [(w.starts_at, w.count) for w in windows] == [
        (next_minute - 2 * minute, 2),
        (next_minute - minute, 2),
    ]
    assert throttle.used(inbox) == {"minute": 2, "day": 4}
    assert len(smtp_sink.messages) == 4


@pytest.mark.skipif(
    connection.vendor == "postgresql",
    reason="the ORM path of other databases; runs on SQLite (make test without DATABASE_URL)",
)
@pytest.mark.integration
@pytest.mark.filterwarnings(SINK_WARNING)
@pytest.mark.django_db
def test_without_postgresql_statements_the_same_limits_and_results_hold(
    owner, contact, dovecot, smtp_sink
):
    # SQLite (`make run`) takes the ORM path: one transaction instead of one statement.
    inbox = imap_mailbox(owner, dovecot, smtp_sink, send_per_minute=2)
    outbounds = [submit(owner, inbox, subject=f"Note {i}") for i in range(3)]
    away_from_the_minute_edge()

    assert send_due() == {SendStatus.SENT: 2, "throttled": 1}

    rows = [reload(o) for o in outbounds]
    assert [r.status for r in rows] == [SendStatus.SENT, SendStatus.SENT, SendStatus.QUEUED]
    assert all(r.sent_at and message_of(r).sent_at == r.sent_at for r in rows[:2])
    assert rows[2].attempts == 0
    assert throttle.used(inbox) == {"minute": 2, "day": 2}
    assert len(smtp_sink.messages) == 2


@pytest.mark.integration
@pytest.mark.filterwarnings(SINK_WARNING)
@pytest.mark.django_db
def test_the_day_limit_holds_mail_until_tomorrow(owner, contact, dovecot, smtp_sink):
    inbox = imap_mailbox(owner, dovecot, smtp_sink, send_per_day=1)
    submit(owner, inbox)
    second = submit(owner, inbox, subject="Again")
    away_from_the_minute_edge()

    assert send_due() == {SendStatus.SENT: 1, "throttled": 1}

    second = reload(second)
    assert second.status == SendStatus.QUEUED
    assert second.next_attempt_at == throttle.next_window_start(throttle.DAY, timezone.now())
    assert "1 recipients a day" in second.last_error
    # The refused day token did not leak a minute token.
    assert throttle.used(inbox) == {"minute": 1, "day": 1}


@pytest.mark.integration
@pytest.mark.filterwarnings(SINK_WARNING)
@pytest.mark.django_db
def test_the_day_limit_counts_every_recipient_cc_and_bcc_too(owner, contact, dovecot, smtp_sink):
    # Exchange Online caps recipients a day, not emails: so does the throttle's day.
    inbox = imap_mailbox(owner, dovecot, smtp_sink, send_per_day=4)
    first = submit(owner, inbox, cc=["cc@partner.example"], bcc=["boss@crm.example"])
    second = submit(owner, inbox, cc=["cc@partner.example"], subject="Two more")
    away_from_the_minute_edge()

    assert send_due() == {SendStatus.SENT: 1, "throttled": 1}

    assert reload(first).status == SendStatus.SENT
    second = reload(second)
    assert second.status == SendStatus.QUEUED
    assert "4 recipients a day" in second.last_error
    assert throttle.used(inbox) == {"minute": 1, "day": 3}
    assert len(smtp_sink.messages) == 1


def _take_tokens(mailbox, tries: int, barrier: threading.Barrier, taken: list) -> None:
    from django.db import transaction

    try:
        barrier.wait()
        for _ in range(tries):
            try:
                with transaction.atomic():
                    throttle.take(mailbox)
                taken.append(1)
            except throttle.OverLimit:
                pass
    finally:
        close_old_connections()
        connection.close()


@RACE_TIMEOUT
@pytest.mark.django_db(transaction=True)
def test_workers_racing_for_tokens_never_exceed_the_limit(owner):
    from mailboxes.models import Mailbox

    mailbox = Mailbox.objects.create(
        kind="personal",
        provider="imap",
        email="race@crm.example",
        owner=owner,
        send_per_minute=7,
        send_per_day=1000,
    )
    away_from_the_minute_edge()
    taken: list[int] = []
    barrier = threading.Barrier(4)
    threads = [
        threading.Thread(target=_take_tokens, args=(mailbox, 10, barrier, taken)) for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(taken) == 7
    assert throttle.used(mailbox) == {"minute": 7, "day": 7}


def _send_due_in_thread(barrier: threading.Barrier, outcomes: list) -> None:
    try:
        barrier.wait()
        outcomes.append(send_due(limit=3))
    finally:
        connection.close()


@RACE_TIMEOUT
@pytest.mark.integration
@pytest.mark.filterwarnings(SINK_WARNING)
@pytest.mark.django_db(transaction=True)
def test_two_workers_share_the_limit_and_send_each_email_once(owner, contact, dovecot, smtp_sink):
    inbox = imap_mailbox(owner, dovecot, smtp_sink, send_per_minute=4)
    outbounds = [submit(owner, inbox, subject=f"Update {i}") for i in range(10)]
    away_from_the_minute_edge()
    results: list = []
    barrier = threading.Barrier(2)
    workers = [threading.Thread(target=_send_due_in_thread, args=(barrier, results)) for _ in "ab"]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    assert sum(r[SendStatus.SENT] for r in results) == 4
    ids = [header(m.data, "Message-ID") for m in smtp_sink.messages]
    assert len(ids) == len(set(ids)) == 4
    statuses = sorted(reload(o).status for o in outbounds)
    assert statuses == [SendStatus.QUEUED] * 6 + [SendStatus.SENT] * 4


@contextmanager
def queries_by_thread():
    """Record (thread name, SQL) of every query: on this thread's connection, and on each
    connection another thread opens meanwhile (Django's connection_created signal)."""
    queries: list[tuple[str, str]] = []

    def record(execute, sql, params, many, context):
        queries.append((threading.current_thread().name, sql))
        return execute(sql, params, many, context)

    def opened(sender, connection, **kwargs):
        connection.execute_wrappers.append(record)

    connection_created.connect(opened, weak=False)
    try:
        with connection.execute_wrapper(record):
            yield queries
    finally:
        connection_created.disconnect(opened)


@RACE_TIMEOUT
@pytest.mark.integration
@pytest.mark.filterwarnings(SINK_WARNING)
@pytest.mark.django_db(transaction=True)
def test_a_pass_claims_the_next_batch_while_sending_and_keeps_one_smtp_session(
    owner, contact, dovecot, smtp_sink
):
    inbox = imap_mailbox(owner, dovecot, smtp_sink)
    outbounds = [submit(owner, inbox, subject=f"Batch {i}") for i in range(5)]

    with queries_by_thread() as queries:
        assert send_due(limit=2) == {SendStatus.SENT: 5}

    here = threading.current_thread().name
    if connection.vendor == "postgresql":
        # The first batch claimed on the worker's thread, every later one on the helper
        # thread while the batch before it was on the wire.
        claimers = [name for name, sql in queries if "SKIP LOCKED" in sql]
        assert claimers[0] == here
        assert {name.split("_")[0] for name in claimers[1:]} == {"outbound-claim"}
        assert len(claimers) == 4  # 2 + 2 + 1, then nothing left
    else:  # claimed in between batches, one writer at a time
        assert {name for name, _ in queries} == {here}
    assert len(smtp_sink.messages) == 5
    assert smtp_sink.sessions == 1
    assert [reload(o).status for o in outbounds] == [SendStatus.SENT] * 5


@pytest.mark.integration
@pytest.mark.filterwarnings(SINK_WARNING)
@pytest.mark.django_db(transaction=True)
def test_sends_in_progress_finish_before_a_pass_moves_to_another_inbox(
    owner, contact, dovecot, smtp_sink
):
    first = imap_mailbox(owner, dovecot, smtp_sink)
    second = imap_mailbox(owner, dovecot, smtp_sink, email="rep.two@crm.example")
    # One-row batches alternate between the inboxes: each switch finishes the other's sends.
    outbounds = [submit(owner, inbox) for inbox in (first, second, first, second)]

    assert send_due(limit=1) == {SendStatus.SENT: 4}

    assert [reload(o).status for o in outbounds] == [SendStatus.SENT] * 4
    assert [m.mail_from for m in smtp_sink.messages] == [
        REP_ADDRESS,
        "rep.two@crm.example",
        REP_ADDRESS,
        "rep.two@crm.example",
    ]
    assert smtp_sink.sessions == 2  # one per inbox, kept across its batches


@pytest.mark.integration
@pytest.mark.filterwarnings(SINK_WARNING)
@pytest.mark.django_db(transaction=True)
def test_a_batch_claimed_after_the_pass_ran_out_of_time_is_released_at_once(
    owner, contact, dovecot, smtp_sink
):
    inbox = imap_mailbox(owner, dovecot, smtp_sink)
    outbounds = [submit(owner, inbox, subject=f"Late {i}") for i in range(3)]

    # No time left after the first batch: the one claimed meanwhile is not sent...
    assert send_due(limit=2, seconds=0) == {SendStatus.SENT: 2}

    late = reload(outbounds[2])
    assert late.status == SendStatus.QUEUED
    assert late.claimed_at is None  # ...and the next pass need not wait out its lease
    assert send_due() == {SendStatus.SENT: 1}
    assert len(smtp_sink.messages) == 3


# -- privacy, scheduling, the rep's actions -----------------------------------------------------


@pytest.mark.integration
@pytest.mark.filterwarnings(SINK_WARNING)
@pytest.mark.django_db
def test_contact_who_opted_out_while_queued_is_not_emailed(owner, contact, inbox, smtp_sink):
    outbound = submit(owner, inbox)
    opt_out_of_all(contact, source=OptOutSource.REP, actor=owner)

    assert send_outbound(outbound.pk) == SendStatus.FAILED

    outbound = reload(outbound)
    assert outbound.status == SendStatus.FAILED
    assert outbound.attempts == 0
    assert "opted out of all email" in outbound.last_error
    assert smtp_sink.messages == []
    refusal = PrivacyEvent.objects.get(kind=EventKind.SEND_REFUSED, contact=contact)
    assert refusal.message_ref == outbound.message.message_id
    assert refusal.actor == owner


@pytest.mark.integration
@pytest.mark.filterwarnings(SINK_WARNING)
@pytest.mark.django_db
def test_one_time_basis_used_at_submit_still_covers_the_send(owner, contact, inbox, smtp_sink):
    from privacy.services import one_time_basis_record

    opt_out_of_all(contact, source=OptOutSource.REP, actor=owner)
    basis = one_time_basis_record(contact, owner, "contract", "Sending the signed contract.")
    outbound = submit(owner, inbox, one_time_basis=basis.pk)

    assert send_outbound(outbound.pk) == SendStatus.SENT
    assert len(smtp_sink.messages) == 1
    # Audited once, at submit; the send-time re-check with the same reference adds nothing.
    assert PrivacyEvent.objects.filter(kind=EventKind.SEND_ALLOWED_ONE_TIME).count() == 1


@pytest.mark.integration
@pytest.mark.filterwarnings(SINK_WARNING)
@pytest.mark.django_db
def test_scheduled_email_waits_for_its_time_then_send_due_sends_it(
    owner, contact, inbox, smtp_sink
):
    at = timezone.now() + timedelta(seconds=2)
    outbound = submit(owner, inbox, scheduled_at=at)
    assert outbound.status == SendStatus.SCHEDULED

    assert send_outbound(outbound.pk) is None
    assert send_due() == {}
    assert reload(outbound).status == SendStatus.SCHEDULED
    assert smtp_sink.messages == []

    threading.Event().wait(max(0.0, (at - timezone.now()).total_seconds()) + 0.05)
    assert send_due() == {SendStatus.SENT: 1}
    outbound = reload(outbound)
    assert outbound.status == SendStatus.SENT
    assert outbound.sent_at >= at
    assert len(smtp_sink.messages) == 1


@pytest.mark.integration
@pytest.mark.filterwarnings(SINK_WARNING)
@pytest.mark.django_db
def test_cancelled_email_is_never_sent(owner, contact, inbox, smtp_sink):
    scheduled = submit(owner, inbox, scheduled_at=timezone.now() + timedelta(hours=1))
    queued = submit(owner, inbox)

    outbound_cancel(scheduled)
    outbound_cancel(queued)

    assert scheduled.status == queued.status == SendStatus.CANCELLED
    assert send_outbound(queued.pk) is None
    assert send_due() == {}
    assert smtp_sink.messages == []
    with pytest.raises(Exception, match="can't be cancelled: it is cancelled"):
        outbound_cancel(queued)


@pytest.mark.integration
@pytest.mark.filterwarnings(SINK_WARNING)
@pytest.mark.django_db
def test_a_claimed_email_cancelled_before_sending_is_not_sent(owner, contact, inbox, smtp_sink):
    outbound = submit(owner, inbox)
    claims = sending.claim_due()
    outbound_cancel(outbound)  # the rep wins the race with the worker that claimed it

    assert sending.send_claimed(claims) == {"skipped": 1}
    assert reload(outbound).status == SendStatus.CANCELLED
    assert smtp_sink.messages == []


@pytest.mark.integration
@pytest.mark.filterwarnings(SINK_WARNING)
@pytest.mark.django_db
def test_send_now_sends_a_scheduled_email_ahead_of_time(
    owner, contact, inbox, smtp_sink, queued_jobs, django_capture_on_commit_callbacks
):
    outbound = submit(owner, inbox, scheduled_at=timezone.now() + timedelta(days=1))

    with django_capture_on_commit_callbacks(execute=True):
        outbound_send_now(outbound)

    assert outbound.status == SendStatus.QUEUED
    assert queued_jobs == [(jobs.SEND_OUTBOUND, (outbound.pk,))]
    assert send_outbound(outbound.pk) == SendStatus.SENT
    assert len(smtp_sink.messages) == 1
    with pytest.raises(Exception, match="can't be sent now: it is sent"):
        outbound_send_now(outbound)


@pytest.mark.django_db
def test_uncertain_email_can_be_sent_again_or_marked_sent(
    owner, contact, queued_jobs, django_capture_on_commit_callbacks
):
    from mailboxes.models import Mailbox

    inbox = Mailbox.objects.create(
        kind="personal", provider="imap", email=REP_ADDRESS, owner=owner, config={}
    )
    first, second = submit(owner, inbox), submit(owner, inbox, subject="Two")
    attempt = timezone.now() - timedelta(minutes=20)
    for row in (first, second):
        row.status, row.attempts, row.attempted_at = SendStatus.UNCERTAIN, 1, attempt
        row.last_error = reconcile.UNCERTAIN_WORDS
        row.save()
    activity = first.message.activity
    ActivityLink.objects.filter(activity=activity).update(occurred_at=attempt)
    Activity.objects.filter(pk=activity.pk).update(occurred_at=attempt)

    with django_capture_on_commit_callbacks(execute=True):
        outbound_send_again(first)
        outbound_mark_sent(second)

    assert queued_jobs == [(jobs.SEND_OUTBOUND, (first.pk,))]  # a new send; none for the other
    assert (first.status, first.attempts, first.last_error) == (SendStatus.QUEUED, 0, "")
    assert first.next_attempt_at <= timezone.now()
    # A new send: the timeline shows it now, not where the first attempt was.
    activity.refresh_from_db()
    assert activity.occurred_at == first.next_attempt_at
    assert {link.occurred_at for link in activity.links.all()} == {first.next_attempt_at}
    assert second.status == SendStatus.SENT
    assert second.sent_at == attempt
    # Each decision is a line of the email's history.
    assert [e.detail for e in first.events.all()] == ["Sent again by the rep."]
    assert [e.detail for e in second.events.all()] == ["Marked as sent by the rep."]
    assert message_of(second).sent_at == attempt
    with pytest.raises(Exception, match="Only an email whose sending is uncertain"):
        outbound_mark_sent(first)


@pytest.mark.django_db
def test_email_whose_inbox_was_removed_fails_with_a_reason(owner, contact):
    from mailboxes.models import Mailbox

    inbox = Mailbox.objects.create(
        kind="personal", provider="imap", email=REP_ADDRESS, owner=owner, config={}
    )
    outbound = submit(owner, inbox)
    inbox.delete()

    assert send_outbound(outbound.pk) == SendStatus.FAILED
    assert "no longer connected" in reload(outbound).last_error


@pytest.mark.django_db
def test_an_emails_history_is_written_in_the_deployments_language(
    owner, contact, settings, tmp_path
):
    """The worker writes the reason when it happens, in CRM_LANGUAGE (LANGUAGE_CODE)."""
    inbox = Mailbox.objects.create(
        kind="personal", provider="imap", email=REP_ADDRESS, owner=owner, config={}
    )
    outbound = submit(owner, inbox)
    inbox.delete()
    italian = "La casella da cui inviare questa email non è più collegata."
    write_catalogue(tmp_path, "it", {str(sending.NO_INBOX_WORDS): italian})
    settings.LOCALE_PATHS = [tmp_path]
    settings.LANGUAGE_CODE = "it"

    assert send_outbound(outbound.pk) == SendStatus.FAILED
    outbound = reload(outbound)
    assert outbound.last_error == italian
    assert [e.detail for e in outbound.events.all()] == [italian]


@pytest.mark.integration
@pytest.mark.filterwarnings(SINK_WARNING)
@pytest.mark.django_db
def test_a_batch_goes_out_through_one_send_job_per_twenty_emails(
    owner, contact, inbox, smtp_sink, queued_jobs, django_capture_on_commit_callbacks
):
    from mailboxes.constants import SendSource
    from mailboxes.outbox import tasks
    from mailboxes.outbox.enqueue import SEND_JOB_SIZE, Source, email_enqueue_many
    from privacy.constants import SenderContext

    from .test_enqueue import email

    Mailbox.objects.filter(pk=inbox.pk).update(send_per_minute=100)
    inbox.refresh_from_db()
    one_to_one = {
        "privacy_context": SenderContext.ONE_TO_ONE,
        "source": Source(SendSource.ONE_TO_ONE),
    }
    batch = [email(inbox, owner, [contact], subject=f"Batch {n}", **one_to_one) for n in range(23)]
    with django_capture_on_commit_callbacks(execute=True):
        messages = email_enqueue_many(batch)

    ids = [m.outbound.pk for m in messages]
    sent_jobs = queued_jobs.args_of(jobs.SEND_OUTBOUND)
    assert SEND_JOB_SIZE == 20 and sent_jobs == [tuple(ids[:20]), tuple(ids[20:])]
    assert [tasks.send_outbound(*job) for job in sent_jobs] == [20, 3]
    assert Outbound.objects.filter(pk__in=ids, status=SendStatus.SENT).count() == 23
    assert sorted(header(m.data, "Subject") for m in smtp_sink.messages) == sorted(
        f"Batch {n}" for n in range(23)
    )
    # A job delivered again finds its emails sent: nothing goes out twice.
    assert tasks.send_outbound(*sent_jobs[0]) == 0
    assert len(smtp_sink.messages) == 23
