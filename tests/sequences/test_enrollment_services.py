"""Enrolling contacts: each preflight blocker with its fix, all or nothing, the race, bad input."""

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from mailboxes.constants import MailboxStatus
from mailboxes.models import BouncedAddress, SendCounter
from mailboxes.models.outbound import DAY, window_start
from privacy.constants import OptOutSource
from privacy.models import ContactOptOut
from records.constants import RecordAccess
from records.models import Activity
from sequences.constants import BULK_LIMIT, EnrollmentStatus, EventKind
from sequences.enrollment.services import (
    Code,
    EnrollRefused,
    Plan,
    enroll,
    fill_token,
    preflight,
)
from sequences.models import Enrollment, Sequence
from tests.factories import ContactFactory, UserFactory

from .enrollment_support import plans, three_steps

pytestmark = pytest.mark.django_db


def codes(blockers, contact):
    return [b.code for b in blockers[contact.pk]]


def test_a_contact_with_nothing_in_the_way_has_no_blocker(owner, contact, inbox, sequence):
    assert preflight(owner, sequence, plans([contact]), inbox) == {contact.pk: []}


def test_each_contact_blocker_comes_with_its_fix(owner, inbox, sequence, outsider):
    no_email = ContactFactory(owner=owner, emails=[])
    bounced = ContactFactory(owner=owner, first_name="Bea", emails=["bea@gone.example"])
    BouncedAddress.objects.create(address="bea@gone.example", reason="550 no such user")
    unsubscribed = ContactFactory(owner=owner, first_name="Uma")
    ContactOptOut.objects.create(contact=unsubscribed, source=OptOutSource.ONE_CLICK)
    enrolled = ContactFactory(owner=owner, first_name="Eli")
    enroll(owner, three_steps(owner), plans([enrolled]), inbox)
    hidden = ContactFactory(owner=outsider, first_name="Hal")
    nameless = ContactFactory(owner=owner, first_name="")

    blockers = preflight(
        owner, sequence, plans([no_email, bounced, unsubscribed, enrolled, hidden, nameless]), inbox
    )

    assert codes(blockers, no_email) == [Code.NO_EMAIL]
    assert codes(blockers, bounced) == [Code.BOUNCED]
    assert codes(blockers, unsubscribed) == [Code.PRIVACY]
    assert "opted out" in blockers[unsubscribed.pk][0].message
    assert codes(blockers, enrolled) == [Code.ENROLLED]
    assert "Trade fair follow-up" in blockers[enrolled.pk][0].message
    assert codes(blockers, hidden) == [Code.NO_ACCESS]
    assert codes(blockers, nameless) == [Code.MISSING_TOKEN]
    assert "{{ contact.first_name }}" in blockers[nameless.pk][0].message
    assert all(b.fix for found in blockers.values() for b in found)


def test_a_token_filled_for_the_contact_clears_its_blocker(owner, inbox, sequence):
    nameless = ContactFactory(owner=owner, first_name="")
    step = sequence.steps.get(position=0)
    plan = Plan(
        contact=nameless,
        time_zone="UTC",
        overrides={
            "0": {
                "subject": fill_token(step.subject, "contact.first_name", "Sam", html=False),
                "body": fill_token(step.body, "contact.first_name", "<Sam>", html=True),
            }
        },
    )
    assert preflight(owner, sequence, [plan], inbox) == {nameless.pk: []}
    assert plan.overrides["0"]["body"] == "<p>Hi &lt;Sam&gt;, we met at the fair.</p>"


def test_an_unknown_token_is_a_blocker(owner, contact, inbox, sequence):
    sequence.steps.filter(position=2).update(body="<p>{{ contact.shoe_size }}</p>")
    assert codes(preflight(owner, sequence, plans([contact]), inbox), contact) == [
        Code.UNKNOWN_TOKEN
    ]


def test_a_disconnected_inbox_blocks_everyone(owner, contact, inbox, sequence):
    inbox.status = MailboxStatus.NEEDS_RECONNECT
    inbox.save()
    assert codes(preflight(owner, sequence, plans([contact]), inbox), contact) == [
        Code.INBOX_DISCONNECTED
    ]


def test_an_inbox_at_its_daily_limit_blocks_send_now_but_not_send_later(
    owner, contact, inbox, sequence
):
    now = timezone.now()
    inbox.send_per_day = 10
    inbox.save()
    SendCounter.objects.create(
        mailbox=inbox, window=DAY, starts_at=window_start(DAY, now), count=10
    )
    assert codes(preflight(owner, sequence, plans([contact]), inbox, now=now), contact) == [
        Code.INBOX_FULL
    ]
    later = plans([contact], send_at=now + timedelta(days=1))
    assert preflight(owner, sequence, later, inbox, now=now) == {contact.pk: []}


def test_enroll_writes_the_enrollment_its_history_and_its_timeline_card(
    owner, contact, inbox, sequence
):
    send_at = timezone.now() + timedelta(hours=2)
    overrides = {"2": {"delay_days": 5}, "1": {"task_title": "Ring Olivia"}}
    (enrollment,) = enroll(
        owner,
        sequence,
        [Plan(contact, "Asia/Tokyo", start_position=0, send_at=send_at, overrides=overrides)],
        inbox,
    )
    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.ACTIVE
    assert (enrollment.due_at, enrollment.next_position) == (send_at, 0)
    assert enrollment.time_zone == "Asia/Tokyo"
    assert enrollment.overrides == {"2": {"delay_days": 5}, "1": {"task_title": "Ring Olivia"}}
    assert enrollment.from_address == inbox.email
    assert [e.kind for e in enrollment.events.all()] == [EventKind.ENROLLED]
    card = Activity.objects.get(pk=enrollment.activity_id)
    assert card.kind == "sequence"
    assert list(card.links.values_list("record_id", flat=True)) == [contact.pk]


def test_one_blocked_contact_enrolls_nobody(owner, contact, inbox, sequence):
    blocked = ContactFactory(owner=owner, emails=[])
    with pytest.raises(EnrollRefused) as refused:
        enroll(owner, sequence, plans([contact, blocked]), inbox)
    assert codes(refused.value.blockers, blocked) == [Code.NO_EMAIL]
    assert not Enrollment.objects.exists()
    assert not Activity.objects.filter(kind="sequence").exists()


def test_a_contact_the_user_cannot_see_is_refused(owner, outsider, inbox, sequence):
    theirs = ContactFactory(owner=outsider)
    with pytest.raises(EnrollRefused) as refused:
        enroll(owner, sequence, plans([theirs]), inbox)
    assert codes(refused.value.blockers, theirs) == [Code.NO_ACCESS]


@pytest.mark.django_db(transaction=True)
def test_a_racing_second_enrollment_hits_the_unique_index_and_is_refused(
    postgresql, owner, contact, inbox, sequence
):
    # Another request enrolls the contact in another sequence and commits only after this
    # one's preflight found nothing: the unique live-enrollment index is the last guard.
    other = three_steps(owner)
    written, done = threading.Event(), threading.Event()

    def racing_request():
        try:
            with transaction.atomic():
                Enrollment.objects.create(
                    sequence=other,
                    contact=contact,
                    enrolled_by=owner,
                    mailbox=inbox,
                    from_address=inbox.email,
                    time_zone="UTC",
                )
                written.set()
                time.sleep(1)  # this request's insert waits on the index meanwhile
        finally:
            connections.close_all()
            done.set()

    thread = threading.Thread(target=racing_request)
    thread.start()
    written.wait(10)
    with pytest.raises(EnrollRefused, match="enrolled in a sequence meanwhile"):
        enroll(owner, sequence, plans([contact]), inbox)
    thread.join(10)
    assert list(Enrollment.objects.values_list("sequence_id", flat=True)) == [other.pk]
    assert not Activity.objects.filter(kind="sequence").exists()


@pytest.mark.parametrize(
    "change, words",
    [
        ({"send_at": "past"}, "in the past"),
        ({"start_position": 7}, "step of this sequence"),
        ({"overrides": {"1": {"delay_days": -1}}}, "between 0 and 365"),
        ({"overrides": {"1": {"delay_days": 400}}}, "between 0 and 365"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(owner, contact, inbox, sequence, change, words):
    if change.get("send_at") == "past":
        change = {"send_at": timezone.now() - timedelta(minutes=5)}
    with pytest.raises(EnrollRefused, match=words):
        enroll(owner, sequence, plans([contact], **change), inbox)
    assert not Enrollment.objects.exists()


def test_an_archived_sequence_or_one_without_steps_is_refused(owner, contact, inbox, sequence):
    Sequence.objects.filter(pk=sequence.pk).update(archived_at=timezone.now())
    with pytest.raises(EnrollRefused, match="archived"):
        enroll(owner, sequence, plans([contact]), inbox)
    empty = Sequence.objects.create(name="Empty", owner=owner)
    with pytest.raises(EnrollRefused, match="no steps"):
        enroll(owner, empty, plans([contact]), inbox)


def test_more_than_the_bulk_limit_is_refused(owner, inbox, sequence):
    contacts = [ContactFactory(owner=owner) for _ in range(BULK_LIMIT + 1)]
    with pytest.raises(EnrollRefused, match="At most 50"):
        enroll(owner, sequence, plans(contacts), inbox)
    assert not Enrollment.objects.exists()


def test_preflight_of_fifty_contacts_takes_as_many_queries_as_of_one(owner, inbox, sequence):
    admin = UserFactory(record_access=RecordAccess.ALL)
    one = [ContactFactory(owner=owner)]
    many = one + [ContactFactory(owner=owner) for _ in range(BULK_LIMIT - 1)]
    inbox.owner = admin
    inbox.save()
    counted = []
    for batch in (one, many):
        with CaptureQueriesContext(connection) as queries:
            preflight(admin, sequence, plans(batch), inbox)
        counted.append(len(queries))
    assert counted[0] == counted[1]


def test_enrolling_fifty_adds_only_each_ones_line_of_history_to_the_queries_of_one(
    owner, inbox, sequence
):
    counted = []
    for size in (1, BULK_LIMIT):
        batch = [ContactFactory(owner=owner) for _ in range(size)]
        with CaptureQueriesContext(connection) as queries:
            enroll(owner, sequence, plans(batch), inbox)
        counted.append(len(queries))
    assert counted[1] - counted[0] == BULK_LIMIT - 1
