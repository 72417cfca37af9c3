"""The tick (sequences/engine/): each due step runs once, in one transaction; emails go into
the outbox as the sequence's, replies in the thread; tasks wait for their completion; the
query count does not grow with the number of enrollments. The clock is given to the tick
(`now`), never patched."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from mailboxes.constants import SendSource
from mailboxes.models import Outbound
from mailboxes.outbox.throttle import SOURCE_MINUTE_LIMITS
from privacy.services import opt_out_of_all
from records.constants import TaskStatus
from records.models import Activity
from records.services import association_create
from sequences.constants import (
    EMAILS_PER_MINUTE_PER_INBOX,
    EndReason,
    EnrollmentStatus,
    EventKind,
    StepKind,
)
from sequences.engine.tick import tick
from sequences.models import Enrollment, StepRun
from tests.factories import CompanyFactory, ContactFactory
from tests.mailboxes.inboxes import offline_mailbox
from tests.sequences.engine_setup import email_step, enroll, make_sequence, task_step

pytestmark = pytest.mark.django_db
# A Tuesday, 10:00 in Rome: within the account's default hours.
TUESDAY = datetime(2026, 12, 8, 9, 0, tzinfo=UTC)


@pytest.fixture
def inbox(owner):
    return offline_mailbox(owner)


def events(enrollment) -> list[str]:
    return list(enrollment.events.order_by("pk").values_list("kind", flat=True))


def test_a_due_email_step_is_queued_once_as_the_sequences_in_the_sender_s_thread(
    owner, contact, inbox
):
    sequence = make_sequence(owner, [email_step(), email_step(subject="")])
    enrollment = enroll(sequence, contact, inbox, TUESDAY)

    assert tick(TUESDAY) == {"email": 1}
    assert tick(TUESDAY) == {}  # nothing due any more

    enrollment.refresh_from_db()
    first = Outbound.objects.get()
    assert (first.source, first.source_id) == (SendSource.SEQUENCE, enrollment.pk)
    assert first.sender == owner
    assert first.message.subject == "Hello Olivia"
    assert "Hi Olivia" in first.message.html_body
    assert (enrollment.next_position, enrollment.last_email, enrollment.thread) == (
        1,
        first.message,
        first.message.thread,
    )
    assert StepRun.objects.get().outbound == first
    # Next business day, same wall-clock time in Rome.
    assert enrollment.due_at == TUESDAY + timedelta(days=1)

    assert tick(enrollment.due_at) == {"email": 1}
    second = Outbound.objects.exclude(pk=first.pk).get().message
    assert second.thread == first.message.thread
    assert second.in_reply_to == first.message.message_id
    assert second.subject == "Re: Hello Olivia"
    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.end_reason) == (
        EnrollmentStatus.FINISHED,
        EndReason.FINISHED,
    )
    assert events(enrollment) == [EventKind.STEP_RAN, EventKind.STEP_RAN, EventKind.FINISHED]


def test_the_per_enrollment_edits_of_a_step_win(owner, contact, inbox):
    sequence = make_sequence(owner, [email_step()])
    enroll(
        sequence,
        contact,
        inbox,
        TUESDAY,
        overrides={"0": {"subject": "Just for you", "body": "<p>Written for Olivia</p>"}},
    )
    tick(TUESDAY)
    message = Outbound.objects.get().message
    assert message.subject == "Just for you"
    assert "Written for Olivia" in message.html_body


def test_tokens_of_the_contacts_company_are_filled(owner, contact, inbox):
    association_create(contact, CompanyFactory(name="Acme Rockets", owner=owner))
    sequence = make_sequence(owner, [email_step(subject="News for {{ company.name }}")])
    enroll(sequence, contact, inbox, TUESDAY)
    tick(TUESDAY)
    assert Outbound.objects.get().message.subject == "News for Acme Rockets"


def test_a_step_already_run_is_not_run_again_and_its_work_rolls_back(owner, contact, inbox):
    sequence = make_sequence(owner, [email_step(), email_step()])
    enrollment = enroll(sequence, contact, inbox, TUESDAY)
    StepRun.objects.create(enrollment=enrollment, position=0, kind=StepKind.AUTO_EMAIL)

    assert tick(TUESDAY) == {"skipped": 1}
    assert not Outbound.objects.exists()
    enrollment.refresh_from_db()
    assert (enrollment.next_position, enrollment.due_at) == (0, TUESDAY)
    assert events(enrollment) == []


def test_in_one_batch_a_step_already_run_holds_up_only_itself(owner, contact, inbox):
    # The batch rolls back on the step that ran already; each step then runs alone.
    sequence = make_sequence(owner, [email_step(), email_step()])
    ran = enroll(sequence, contact, inbox, TUESDAY)
    StepRun.objects.create(enrollment=ran, position=0, kind=StepKind.AUTO_EMAIL)
    others = [enroll(sequence, ContactFactory(owner=owner), inbox, TUESDAY) for _ in range(2)]
    refused = enroll(sequence, ContactFactory(owner=owner), inbox, TUESDAY)
    opt_out_of_all(refused.contact, source="rep", actor=owner)

    assert tick(TUESDAY) == {"skipped": 1, "email": 2, "refused": 1}
    assert Outbound.objects.count() == 2
    assert StepRun.objects.filter(outbound__isnull=False).count() == 2
    for enrollment in others:
        assert events(enrollment) == [EventKind.STEP_RAN]
    refused.refresh_from_db()
    assert refused.status == EnrollmentStatus.ENDED
    assert events(ran) == []


def test_in_one_batch_refusals_and_pauses_are_each_their_own(owner, contact, inbox):
    sequence = make_sequence(owner, [email_step(), email_step()])
    sent = [enroll(sequence, ContactFactory(owner=owner), inbox, TUESDAY) for _ in range(2)]
    refused = enroll(sequence, contact, inbox, TUESDAY)
    opt_out_of_all(contact, source="rep", actor=owner)
    unknown = enroll(sequence, ContactFactory(owner=owner, emails=[]), inbox, TUESDAY)

    assert tick(TUESDAY) == {"email": 2, "refused": 1, "paused": 1}
    assert StepRun.objects.count() == 2  # the refused one's is gone, as alone
    for enrollment in sent:
        enrollment.refresh_from_db()
        assert (enrollment.next_position, enrollment.due_at) == (1, TUESDAY + timedelta(days=1))
        outbound = enrollment.last_email.outbound
        assert StepRun.objects.get(outbound=outbound).enrollment == enrollment
    refused.refresh_from_db()
    unknown.refresh_from_db()
    assert (refused.status, unknown.status) == (EnrollmentStatus.ENDED, EnrollmentStatus.PAUSED)


def test_an_enrollment_ended_or_not_due_is_left_alone(owner, contact, inbox):
    sequence = make_sequence(owner, [email_step()])
    ended = enroll(sequence, contact, inbox, TUESDAY, status=EnrollmentStatus.ENDED)
    later = enroll(sequence, ContactFactory(owner=owner), inbox, TUESDAY + timedelta(hours=1))
    assert tick(TUESDAY) == {}
    assert not Outbound.objects.exists()
    assert ended.runs.count() == later.runs.count() == 0


def test_a_privacy_refusal_ends_the_enrollment_and_writes_no_step(owner, contact, inbox):
    sequence = make_sequence(owner, [email_step(), email_step()])
    enrollment = enroll(sequence, contact, inbox, TUESDAY)
    opt_out_of_all(contact, source="rep", actor=owner)

    assert tick(TUESDAY) == {"refused": 1}
    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.end_reason) == (
        EnrollmentStatus.ENDED,
        EndReason.UNSUBSCRIBED,
    )
    assert not Outbound.objects.exists() and not StepRun.objects.exists()
    assert enrollment.events.get().detail.startswith("Step 1 not sent: Olivia Owned:")


def test_a_token_without_a_value_pauses_the_enrollment_and_says_which(owner, inbox):
    nameless = ContactFactory(owner=owner, first_name="", emails=["x@acme.example"])
    sequence = make_sequence(owner, [email_step()])
    enrollment = enroll(sequence, nameless, inbox, TUESDAY)

    assert tick(TUESDAY) == {"paused": 1}
    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.PAUSED
    assert "Contact first name" in enrollment.events.get().detail
    assert not Outbound.objects.exists() and not StepRun.objects.exists()


def test_a_contact_without_an_address_pauses_the_enrollment(owner, inbox):
    addressless = ContactFactory(owner=owner, first_name="Ada", emails=[])
    enrollment = enroll(make_sequence(owner, [email_step()]), addressless, inbox, TUESDAY)
    assert tick(TUESDAY) == {"paused": 1}
    assert "no email address" in enrollment.events.get().detail


def test_a_disconnected_from_inbox_pauses_the_enrollment_instead_of_queueing(owner, contact, inbox):
    inbox.mark_needs_reconnect("Token expired")
    enrollment = enroll(make_sequence(owner, [email_step()]), contact, inbox, TUESDAY)
    assert tick(TUESDAY) == {"paused": 1}
    assert "is not connected" in enrollment.events.get().detail
    assert not Outbound.objects.exists() and not StepRun.objects.exists()


def test_a_task_step_waits_for_its_completion_then_the_next_step_falls_due(
    owner, contact, inbox, client, django_capture_on_commit_callbacks
):
    sequence = make_sequence(owner, [task_step(), email_step(delay_days=2)])
    enrollment = enroll(sequence, contact, inbox, TUESDAY)

    assert tick(TUESDAY) == {"task": 1}
    enrollment.refresh_from_db()
    task = enrollment.waiting_task
    assert (task.title, task.assigned_to, task.due_at, task.status) == (
        "Call Olivia",
        owner,
        TUESDAY,
        TaskStatus.NOT_STARTED,
    )
    assert list(task.links.values_list("record_id", flat=True)) == [contact.pk]
    assert enrollment.due_at is None
    assert tick(TUESDAY + timedelta(days=9)) == {}  # waits, however long

    # The rep ticks the task off on the contact's page.
    client.force_login(owner)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/records/contacts/{contact.pk}/tasks/{task.pk}/toggle/")
    assert response.status_code == 302
    task.refresh_from_db()
    assert task.status == TaskStatus.COMPLETED
    enrollment.refresh_from_db()
    assert enrollment.waiting_task is None
    # Two business days after the completion, in Rome's hours.
    assert enrollment.due_at > task.completed_at + timedelta(days=1)
    assert events(enrollment) == [EventKind.STEP_RAN, EventKind.TASK_COMPLETED]
    assert tick(enrollment.due_at) == {"email": 1}


def test_a_task_that_continues_without_completion_lets_the_next_step_come_at_once(
    owner, contact, inbox
):
    sequence = make_sequence(
        owner,
        [
            task_step(StepKind.TASK, continue_without_completing=True, task_title="Research"),
            task_step(StepKind.MANUAL_EMAIL, create_task_immediately=True, task_title="Write"),
        ],
    )
    enrollment = enroll(sequence, contact, inbox, TUESDAY)
    # The second task is due at once, so the same pass creates it.
    assert tick(TUESDAY) == {"task": 2}
    enrollment.refresh_from_db()
    titles = Activity.objects.filter(kind="task").order_by("pk").values_list("title", "task_type")
    assert list(titles) == [("Research", "todo"), ("Write", "email")]
    assert enrollment.waiting_task.title == "Write"
    assert enrollment.status == EnrollmentStatus.ACTIVE


def test_completing_the_last_task_finishes_the_enrollment(
    owner, contact, inbox, django_capture_on_commit_callbacks
):
    sequence = make_sequence(owner, [task_step()])
    enrollment = enroll(sequence, contact, inbox, TUESDAY)
    tick(TUESDAY)
    enrollment.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        enrollment.waiting_task.complete()
    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.waiting_task) == (EnrollmentStatus.FINISHED, None)


def test_a_pause_that_has_passed_is_resumed_and_its_step_runs(owner, contact, inbox):
    sequence = make_sequence(owner, [email_step()])
    enrollment = enroll(
        sequence,
        contact,
        inbox,
        TUESDAY,
        status=EnrollmentStatus.PAUSED,
        paused_until=TUESDAY + timedelta(hours=1),
    )
    assert tick(TUESDAY) == {}
    assert tick(TUESDAY + timedelta(hours=1)) == {"resumed": 1, "email": 1}
    enrollment.refresh_from_db()
    assert events(enrollment)[:2] == [EventKind.RESUMED, EventKind.STEP_RAN]


def _queries(n: int, owner, inbox) -> int:
    sequence = make_sequence(owner, [email_step(), email_step()])
    for _ in range(n):
        enroll(sequence, ContactFactory(owner=owner), inbox, TUESDAY)
    with CaptureQueriesContext(connection) as ctx:
        assert tick(TUESDAY) == ({"email": n} if n else {})
    return len(ctx.captured_queries)


def test_the_ticks_queries_do_not_grow_with_the_number_of_enrollments(owner, inbox):
    # Waiting enrollments cost nothing; each due one costs the same bounded step.
    for _ in range(30):
        enroll(make_sequence(owner, [email_step()]), ContactFactory(owner=owner), inbox, None)
    idle = _queries(0, owner, inbox)
    one = _queries(1, owner, inbox) - idle
    Outbound.objects.all().delete()
    Enrollment.objects.update(status=EnrollmentStatus.FINISHED)
    eleven = _queries(11, owner, inbox) - idle
    # The batch's email steps run together: eleven cost what one costs.
    assert one == eleven
    assert one <= 30


def test_a_batch_of_100_email_steps_costs_the_queries_of_a_batch_of_10(postgresql, owner, inbox):
    # PostgreSQL: SQLite caps a statement's parameters, so Django splits big INSERTs there.
    ten = _queries(10, owner, inbox)
    Enrollment.objects.update(status=EnrollmentStatus.FINISHED)
    assert _queries(100, owner, inbox) == ten


def test_the_forecast_reads_the_per_minute_rule_the_outbox_enforces():
    assert SOURCE_MINUTE_LIMITS[SendSource.SEQUENCE] == EMAILS_PER_MINUTE_PER_INBOX == 3


def _company_queries(n: int, owner, inbox) -> int:
    step = email_step(subject="News for {{ company.name }}")
    sequence = make_sequence(owner, [step, email_step()])
    for i in range(n):
        contact = ContactFactory(owner=owner)
        association_create(contact, CompanyFactory(name=f"Company {n}-{i}", owner=owner))
        enroll(sequence, contact, inbox, TUESDAY)
    with CaptureQueriesContext(connection) as ctx:
        assert tick(TUESDAY) == {"email": n}
    return len(ctx.captured_queries)


def test_a_batchs_company_tokens_are_each_contacts_own_read_together(owner, inbox):
    two = _company_queries(2, owner, inbox)
    Enrollment.objects.update(status=EnrollmentStatus.FINISHED)
    assert _company_queries(7, owner, inbox) == two
    subjects = set(Outbound.objects.values_list("message__subject", flat=True))
    assert subjects == {f"News for Company 2-{i}" for i in range(2)} | {
        f"News for Company 7-{i}" for i in range(7)
    }
