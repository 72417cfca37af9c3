"""Sequences, steps and enrollments for the engine's tests, written as the builder and
enrollment pages would leave them."""

from __future__ import annotations

from datetime import datetime

from sequences.constants import StepKind
from sequences.models import Enrollment, Sequence, Step

HELLO = Step(
    kind=StepKind.AUTO_EMAIL,
    subject="Hello {{ contact.first_name }}",
    body="<p>Hi {{ contact.first_name }}, a word from {{ sender.first_name }}.</p>",
)


def email_step(**fields) -> dict:
    return {"kind": StepKind.AUTO_EMAIL, "subject": HELLO.subject, "body": HELLO.body} | fields


def task_step(kind: str = StepKind.CALL, **fields) -> dict:
    return {"kind": kind, "task_title": "Call {{ contact.first_name }}"} | fields


def make_sequence(owner, steps: list[dict], **settings) -> Sequence:
    sequence = Sequence.objects.create(name="Follow-up", owner=owner, **settings)
    Step.objects.bulk_create(
        [
            Step(sequence=sequence, position=n, **({"delay_days": 1} | fields))
            for n, fields in enumerate(steps)
        ]
    )
    return sequence


def enroll(
    sequence: Sequence, contact, mailbox, due_at: datetime, tz: str = "Europe/Rome", **fields
) -> Enrollment:
    return Enrollment.objects.create(
        sequence=sequence,
        contact=contact,
        enrolled_by=sequence.owner,
        mailbox=mailbox,
        from_address=mailbox.email,
        time_zone=tz,
        due_at=due_at,
        **fields,
    )
