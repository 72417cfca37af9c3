"""`make run`'s demo sequence: a rep's follow-up for new leads, with a few contacts enrolled
through the enrollment service, as the enroll dialog does. Its first emails go out through the
rep's demo inbox to the local catcher when the sequence's sending window opens; a contact's
reply unenrolls them."""

from django.core.management.base import BaseCommand
from django.db import transaction

from mailboxes.models import Mailbox
from records.demo import demo_users
from records.models import Contact
from sequences.constants import StepKind
from sequences.enrollment.services import EnrollRefused, Plan, enroll
from sequences.models import Sequence, Step

NAME = "New lead follow-up"
OWNER = "sam"
# The rep's contacts after the first ENROLL_AFTER (the demo's one-to-one emails went to them).
ENROLL_AFTER, ENROLLED = 4, 3
STEPS = [
    {
        "kind": StepKind.AUTO_EMAIL,
        "delay_days": 0,
        "subject": "Nice to meet you, {{ contact.first_name }}",
        "body": "<p>Hi {{ contact.first_name }},</p><p>thanks for your interest. Would a "
        "short call next week help you see whether we are a fit?</p>"
        "<p>{{ sender.first_name }}</p>",
    },
    {
        "kind": StepKind.CALL,
        "delay_days": 2,
        "task_title": "Call {{ contact.first_name }} about their needs",
    },
    {
        "kind": StepKind.AUTO_EMAIL,
        "delay_days": 3,
        "subject": "Re: Nice to meet you, {{ contact.first_name }}",  # in the first's thread
        "body": "<p>Hi {{ contact.first_name }},</p><p>just making sure my last email did not "
        "get lost. Is there a good time to talk?</p><p>{{ sender.first_name }}</p>",
    },
]


class Command(BaseCommand):
    help = "Give the demo's sales rep a sequence with a few contacts enrolled (once)."

    def handle(self, *args, **options):
        owner = demo_users().filter(username=OWNER).first()
        mailbox = owner and Mailbox.objects.filter(email__iexact=owner.email).first()
        if mailbox is None or Sequence.objects.filter(name=NAME, owner=owner).exists():
            return
        with transaction.atomic():
            sequence = Sequence.objects.create(name=NAME, owner=owner)
            Step.objects.bulk_create(
                Step(sequence=sequence, position=n, **fields) for n, fields in enumerate(STEPS)
            )
        contacts = Contact.objects.filter(owner=owner).exclude(email="").order_by("pk")
        plans = [
            Plan(contact=c, time_zone=owner.time_zone)
            for c in contacts[ENROLL_AFTER : ENROLL_AFTER + ENROLLED]
        ]
        try:
            enrolled = enroll(owner, sequence, plans, mailbox)
        except EnrollRefused as refused:
            # The account's rules (privacy, the inbox's limits) may refuse them: as in the
            # enroll dialog, nobody is enrolled, and the sequence is there to try by hand.
            self.stdout.write(f"Demo sequence: {NAME}, nobody enrolled ({refused.message}).")
            return
        self.stdout.write(f"Demo sequence: {NAME}, {len(enrolled)} contacts enrolled.")
