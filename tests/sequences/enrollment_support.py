"""What the enrollment tests share: a rep's inbox and a three-step sequence."""

from mailboxes.models import Mailbox
from sequences.constants import StepKind
from sequences.enrollment.services import Plan
from sequences.models import Sequence, Step


def inbox_of(user, address="rep@sales.example", **fields):
    return Mailbox.objects.create(
        kind="personal", provider="imap", email=address, owner=user, config={}, **fields
    )


def three_steps(owner, **fields) -> Sequence:
    """Email, then a call task two days later, then an email three days after it."""
    sequence = Sequence.objects.create(name="Trade fair follow-up", owner=owner, **fields)
    Step.objects.create(
        sequence=sequence,
        position=0,
        kind=StepKind.AUTO_EMAIL,
        subject="Hello {{ contact.first_name }}",
        body="<p>Hi {{ contact.first_name }}, we met at the fair.</p>",
    )
    Step.objects.create(
        sequence=sequence, position=1, kind=StepKind.CALL, delay_days=2, task_title="Call them"
    )
    Step.objects.create(
        sequence=sequence,
        position=2,
        kind=StepKind.AUTO_EMAIL,
        delay_days=3,
        subject="Re: hello",
        body='<p>Any news from {{ company.name | default:"your team" }}?</p>',
    )
    return sequence


def plans(contacts, tz="Europe/Rome", **fields) -> list[Plan]:
    return [Plan(contact=c, time_zone=tz, **fields) for c in contacts]
