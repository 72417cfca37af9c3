"""Task reminders: with the sequence's setting on, the owner of each task the tick creates gets
an email (records.notifications) as the task falls due, which is at once; none with it off,
and none for a step whose transaction rolled back."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.core import mail

from records import jobs
from records.notifications import send
from sequences.constants import StepKind
from sequences.engine.tick import tick
from sequences.models import StepRun
from tests.factories import ContactFactory
from tests.mailboxes.inboxes import offline_mailbox
from tests.sequences.engine_setup import enroll, make_sequence, task_step

pytestmark = pytest.mark.django_db
TUESDAY = datetime(2026, 12, 8, 9, 0, tzinfo=UTC)  # 10:00 in Rome, within business hours


@pytest.fixture
def inbox(owner):
    owner.email = "owner@crm.example"
    owner.save()
    return offline_mailbox(owner)


def ticked(queued_jobs, capture, now=TUESDAY) -> list[tuple]:
    """Run the tick, commit, and send each reminder it queued as the worker would."""
    with capture(execute=True):
        tick(now)
    reminders = queued_jobs.args_of(jobs.NOTIFY)
    for args in reminders:
        send(*args)
    return reminders


def test_each_task_created_sends_its_owner_one_reminder(
    owner, contact, inbox, settings, queued_jobs, django_capture_on_commit_callbacks
):
    settings.CRM_BASE_URL = "https://crm.example"
    sequence = make_sequence(owner, [task_step()], task_reminders=True)
    other = ContactFactory(owner=owner, first_name="Bruno", last_name="Neri", emails=[])
    enroll(sequence, contact, inbox, TUESDAY)
    enroll(sequence, other, inbox, TUESDAY)

    assert len(ticked(queued_jobs, django_capture_on_commit_callbacks)) == 2
    assert sorted(email.subject for email in mail.outbox) == [
        "Task due: Call Bruno",
        "Task due: Call Olivia",
    ]
    olivia = next(email for email in mail.outbox if email.subject.endswith("Olivia"))
    assert olivia.to == ["owner@crm.example"]
    assert f"“Call Olivia” for {contact}, from the sequence “Follow-up”" in olivia.body
    assert f"https://crm.example/records/contacts/{contact.pk}/" in olivia.body
    # The next tick creates no task (each waits for its completion): no reminder again.
    with django_capture_on_commit_callbacks(execute=True):
        tick(TUESDAY)
    assert len(queued_jobs.args_of(jobs.NOTIFY)) == 2


def test_no_reminder_with_the_setting_off(
    owner, contact, inbox, queued_jobs, django_capture_on_commit_callbacks
):
    sequence = make_sequence(owner, [task_step()])
    enroll(sequence, contact, inbox, TUESDAY)
    assert ticked(queued_jobs, django_capture_on_commit_callbacks) == []
    assert mail.outbox == []


def test_no_reminder_for_a_step_that_rolled_back(
    owner, contact, inbox, queued_jobs, django_capture_on_commit_callbacks
):
    sequence = make_sequence(owner, [task_step()], task_reminders=True)
    enrollment = enroll(sequence, contact, inbox, TUESDAY)
    # The step ran already: running it again fails on StepRun's unique key and rolls back.
    StepRun.objects.create(enrollment=enrollment, position=0, kind=StepKind.CALL)
    assert ticked(queued_jobs, django_capture_on_commit_callbacks) == []
    assert mail.outbox == []
