"""The tick: run every due step once, whatever the workers and machines do.

Celery beat queues it every few seconds (settings: SEQUENCE_TICK_SECONDS, queue "sequences").
A pass reads due enrollments (active, `due_at` <= now: the partial index `enrollment_due`) in
batches, in a constant number of queries per batch (the enrollments with their sequence,
contact, owner and inbox; the steps of their sequences; their owners' fonts), then runs each
one's step in a transaction of its own:

1. the enrollment row is locked, skipping one another worker holds (FOR UPDATE SKIP LOCKED on
   PostgreSQL; SQLite has one writer at a time and ignores it), and re-read: it must still be
   active, at the same step and due, or another worker ran it, or a reply ended it, meanwhile;
2. the step runs (steps.py), its `StepRun` written first: unique per (enrollment, position),
   so a step that somehow ran already fails, and everything it did rolls back;
3. the enrollment moves on: the next step's due time (advance.py, the sequence's calendar in
   the enrollment's zone), or it waits for the task, or it is finished.

A worker killed in the middle leaves the step run in full (committed) or not at all. The
email goes into the shared outbox, where the send worker applies the inbox's limits and the
3-a-minute sequence limit (mailboxes/outbox/throttle.py): the tick never waits for them.

The pass also resumes enrollments whose pause (an out-of-office's return) has passed.
"""

import logging
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Q, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from mailboxes.models import EmailPreferences
from mailboxes.outbox.enqueue import SendRefused, email_enqueue_many
from mailboxes.preferences.defaults import Font, font_of
from records.bulk import create_rows, update_rows
from records.calendar.clock import Calendar

from .. import lifecycle
from ..constants import EnrollmentStatus
from ..models import Enrollment, Step, StepRun
from ..schedule import calendar_for
from . import advance, steps

log = logging.getLogger(__name__)

BATCH = 100
# A beat-driven pass stops after this long, so passes every few seconds do not pile up.
PASS_SECONDS = 4.0
RAN = ("email", "task")


@dataclass
class Batch:
    """Due enrollments and what running their steps needs, loaded in three queries."""

    enrollments: list[Enrollment]
    steps: dict[int, list[Step]]  # by sequence, in order
    fonts: dict[int, Font]  # by user


def load_due(now: datetime, limit: int, after: tuple[datetime, int] | None = None) -> Batch:
    """Up to `limit` enrollments due at `now`, oldest first, after `after` (due_at, pk)."""
    due = Enrollment.objects.filter(status=EnrollmentStatus.ACTIVE, due_at__lte=now)
    if after is not None:
        due = due.filter(Q(due_at__gt=after[0]) | Q(due_at=after[0], pk__gt=after[1]))
    # The batch picked from the index alone, then joined: joined first, PostgreSQL joined
    # every due enrollment before sorting (80 ms a batch with 10,000 due).
    picked = due.order_by("due_at", "pk").values("pk")[:limit]
    enrollments = list(
        Enrollment.objects.filter(pk__in=Subquery(picked))
        .select_related("sequence", "contact", "enrolled_by", "mailbox")
        .order_by("due_at", "pk")
    )
    by_sequence: dict[int, list[Step]] = {}
    for step in Step.objects.filter(sequence__in={e.sequence_id for e in enrollments}):
        by_sequence.setdefault(step.sequence_id, []).append(step)
    users = {e.enrolled_by_id for e in enrollments}
    saved = {p.user_id: p for p in EmailPreferences.objects.filter(user__in=users)}
    fonts = {pk: font_of(saved.get(pk) or EmailPreferences(user_id=pk)) for pk in users}
    return Batch(enrollments, by_sequence, fonts)


def _locked_if_due(loaded: Enrollment, now: datetime) -> Enrollment | None:
    """The enrollment locked and fresh, if it is still due at the step it was read at."""
    row = (
        Enrollment.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("last_email", "thread")
        .filter(
            pk=loaded.pk,
            status=EnrollmentStatus.ACTIVE,
            next_position=loaded.next_position,
            due_at__lte=now,
        )
        .first()
    )
    if row is not None:
        row.sequence, row.contact = loaded.sequence, loaded.contact
        row.enrolled_by, row.mailbox = loaded.enrolled_by, loaded.mailbox
    return row


def run_one(
    loaded: Enrollment, batch: Batch, account: Calendar, now: datetime
) -> tuple[str, datetime | None]:
    """Run the due step of one enrollment in one transaction; return what happened and when
    its next step is due."""
    with transaction.atomic():
        enrollment = _locked_if_due(loaded, now)
        if enrollment is None:
            return "skipped", None  # another worker has it, or it changed meanwhile
        sequence_steps = batch.steps.get(enrollment.sequence_id, [])
        position = enrollment.next_position
        if position >= len(sequence_steps):  # steps removed since it was scheduled
            advance.schedule_next(enrollment, sequence_steps, now, account)
            return "finished", None  # (ended: nothing left to save)
        step = sequence_steps[position]
        if step.is_email:
            outcome = steps.run_email(enrollment, step, batch.fonts[enrollment.enrolled_by_id], now)
        else:
            outcome = steps.run_task(enrollment, step, now)
        if outcome in RAN:
            enrollment.next_position = position + 1
            enrollment.due_at = None  # waiting for the task, or finished
            if enrollment.waiting_task_id is None:
                advance.schedule_next(enrollment, sequence_steps, now, account)
            fields = ["next_position", "thread", "last_email", "waiting_task", "due_at"]
            enrollment.save(update_fields=fields)
        return outcome, enrollment.due_at


def resume_paused(now: datetime, account: Calendar, limit: int = 1000) -> int:
    """Resume enrollments paused until a moment that has passed; return how many."""
    ids = list(
        Enrollment.objects.filter(
            status=EnrollmentStatus.PAUSED, paused_until__isnull=False, paused_until__lte=now
        ).values_list("pk", flat=True)[:limit]
    )
    resumed = 0
    for pk in ids:
        with transaction.atomic():
            enrollment = (
                Enrollment.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("sequence")
                .filter(pk=pk, status=EnrollmentStatus.PAUSED, paused_until__lte=now)
                .first()
            )
            if enrollment is None:
                continue
            due = None
            if enrollment.waiting_task_id is None:
                cal = calendar_for(enrollment.sequence, enrollment.time_zone, account)
                due = cal.next_open(max(enrollment.due_at or now, now))
            resumed += lifecycle.resume(enrollment, due, _("The pause ended."))
    return resumed


def tick(
    now: datetime | None = None, *, batch: int = BATCH, seconds: float = PASS_SECONDS
) -> Counter:
    """Run due steps in batches until none is left or `seconds` have passed; return how many
    ended in each outcome ("email", "task", "paused", "refused", "finished", "skipped",
    "error", "resumed"). `now`: the moment to run at (tests drive the clock with it);
    None, the real time of each batch."""
    account = Calendar.for_account()
    outcomes: Counter = Counter()
    resumed = resume_paused(now or timezone.now(), account)
    if resumed:
        outcomes["resumed"] = resumed
    deadline = time.monotonic() + seconds
    # Through the due enrollments in (due_at, pk) order; once more from the start when a
    # step ran whose next one is due at once (a task created immediately).
    after, again = None, False
    while time.monotonic() < deadline:
        at = now or timezone.now()
        loaded = load_due(at, batch, after)
        if not loaded.enrollments:
            if not again:
                break
            after, again = None, False
            continue
        for outcome, due in _run_batch(loaded, account, at):
            outcomes[outcome] += 1
            again = again or (due is not None and due <= at)
        last = loaded.enrollments[-1]
        after = (last.due_at, last.pk)
    return outcomes


def _run_batch(loaded: Batch, account: Calendar, now: datetime) -> list:
    """Run the batch's due email steps together (`run_emails`), the others one by one. Should
    the batch fail (a step run already, a bad row), it is rolled back whole and each of its
    steps runs alone, so one bad row holds up only itself."""
    emails, others = [], []
    for enrollment in loaded.enrollments:
        sequence_steps = loaded.steps.get(enrollment.sequence_id, [])
        position = enrollment.next_position
        is_email = position < len(sequence_steps) and sequence_steps[position].is_email
        (emails if is_email else others).append(enrollment)
    results = []
    try:
        results = run_emails(emails, loaded, account, now) if emails else []
    except Exception:
        log.info("sequence tick: a batch of %s email steps failed; one by one", len(emails))
        others = emails + others
    return results + [_run_safely(e, loaded, account, now) for e in others]


def run_emails(
    loaded: list[Enrollment], batch: Batch, account: Calendar, now: datetime
) -> list[tuple[str, datetime | None]]:
    """Run many enrollments' due email steps in ONE transaction, in a constant number of
    queries (the rows locked and re-checked together; their StepRuns written first, in one
    INSERT: a step that ran already fails the whole batch; the emails through
    `email_enqueue_many`; history lines and next due times in one statement each). Pauses
    and refusals are handled per enrollment, as `run_one` does."""
    by_pk = {e.pk: e for e in loaded}
    with transaction.atomic():
        rows = (
            Enrollment.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("last_email", "thread")
            .filter(pk__in=by_pk, status=EnrollmentStatus.ACTIVE, due_at__lte=now)
        )
        fresh = {row.pk: row for row in rows}
        results: list[tuple[str, datetime | None]] = []
        due = []  # (enrollment, step)
        for pk, was in by_pk.items():
            row = fresh.get(pk)
            if row is None or row.next_position != was.next_position:
                results.append(("skipped", None))  # another worker has it, or it changed
                continue
            row.sequence, row.contact = was.sequence, was.contact
            row.enrolled_by, row.mailbox = was.enrolled_by, was.mailbox
            due.append((row, batch.steps[row.sequence_id][row.next_position]))
        contexts = steps.token_contexts(due)
        ready = []  # (enrollment, step, email)
        for row, step in due:
            font = batch.fonts[row.enrolled_by_id]
            email = steps.email_for(row, step, font, contexts.get(row.pk))
            if email is None:
                results.append(("paused", None))
            else:
                ready.append((row, step, email))
        runs = create_rows([steps.step_run(e, step, now) for e, step, _ in ready])
        sent = email_enqueue_many([email for _, _, email in ready])
        events, moved, refused_runs = [], [], []
        for (enrollment, step, _), run, message in zip(ready, runs, sent, strict=True):
            if isinstance(message, SendRefused):
                refused_runs.append(run.pk)
                results.append((steps.refused(enrollment, step, message), None))
            else:
                run.outbound = message.outbound
                events.append(steps.queued(enrollment, step, message, now))
                moved.append(enrollment)
        # A refused email's StepRun goes, as `run_email`'s savepoint rolls it back.
        StepRun.objects.filter(pk__in=refused_runs).delete()
        update_rows([r for r in runs if r.pk not in refused_runs], ["outbound"])
        create_rows(events)  # before any "finished" line
        for enrollment in moved:
            enrollment.next_position += 1
            sequence_steps = batch.steps[enrollment.sequence_id]
            enrollment.due_at = advance.schedule_next(enrollment, sequence_steps, now, account)
            results.append(("email", enrollment.due_at))
        fields = ["next_position", "thread", "last_email", "due_at"]
        update_rows(moved, fields)
    return results


def _run_safely(enrollment: Enrollment, loaded: Batch, account: Calendar, now: datetime):
    try:
        return run_one(enrollment, loaded, account, now)
    except IntegrityError:
        return "skipped", None  # its StepRun exists: the step ran already (all rolled back)
    except Exception:
        # Rolled back: it stays due and the next pass tries again.
        log.exception("sequence enrollment %s: the step failed", enrollment.pk)
        return "error", None
