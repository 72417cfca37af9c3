"""Automation rules: records' record_changed signal, and the rules it fires when a rep edits a
contact: enroll through the preflight (a refused contact skipped with its reason), unenroll,
off rules, a broken rule, and a constant number of queries whatever the number of rules."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from privacy.constants import OptOutSource
from privacy.models import ContactOptOut
from records.signals import record_changed
from sequences.automation.models import Action, Outcome, RuleFiring
from sequences.constants import EndReason, EnrollmentStatus
from sequences.enrollment.services import enroll
from sequences.models import Enrollment, EnrollmentEvent
from tests.factories import ContactFactory

from .automation_support import edit_contact, rule
from .enrollment_support import inbox_of, plans, three_steps

pytestmark = pytest.mark.django_db


@pytest.fixture
def inbox(owner):
    return inbox_of(owner)


@pytest.fixture
def sequence(owner, inbox):
    return three_steps(owner)


@pytest.fixture
def rep(client, owner):
    client.force_login(owner)
    return client


@pytest.fixture
def events():
    """The record_changed events sent, in order."""
    sent = []

    def receive(sender, event, **kwargs):
        sent.append(event)

    record_changed.connect(receive, dispatch_uid="test_automation")
    yield sent
    record_changed.disconnect(dispatch_uid="test_automation")


def test_an_edit_sends_record_changed_once_with_what_changed(
    rep, contact, events, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = edit_contact(rep, contact, lifecycle_stage="customer", job_title="CTO")
    assert response.status_code == 302
    assert len(events) == 1
    assert events[0].record_id == contact.pk
    assert events[0].kind == "contact"
    assert events[0].changed == {"lifecycle_stage": ("lead", "customer"), "job_title": ("", "CTO")}


def test_a_save_that_changes_nothing_sends_nothing(
    rep, contact, events, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        assert edit_contact(rep, contact).status_code == 302
    assert events == []


def test_the_primary_address_is_a_property_too(
    rep, contact, events, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        edit_contact(rep, contact, primary_email="Olivia@New.example")
    assert events[0].changed == {"email": ("olivia@acme.example", "olivia@new.example")}


def test_an_enroll_rule_fires_on_its_value_only(
    rep, owner, contact, sequence, django_capture_on_commit_callbacks
):
    enrolling = rule(sequence, owner, value="customer")
    with django_capture_on_commit_callbacks(execute=True):
        edit_contact(rep, contact, lifecycle_stage="opportunity")
    assert not RuleFiring.objects.exists()
    assert not Enrollment.objects.exists()
    contact.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        edit_contact(rep, contact, lifecycle_stage="customer")
    firing = RuleFiring.objects.get()
    assert (firing.rule, firing.contact, firing.outcome) == (enrolling, contact, Outcome.ENROLLED)
    enrollment = Enrollment.objects.get(contact=contact)
    assert firing.enrollment == enrollment
    assert (enrollment.sequence, enrollment.enrolled_by) == (sequence, owner)
    assert (enrollment.status, enrollment.next_position) == (EnrollmentStatus.ACTIVE, 0)
    assert enrollment.from_address == "rep@sales.example"
    assert enrollment.time_zone == owner.time_zone
    assert enrollment.activity is not None  # its card on the contact's timeline
    history = [e.detail for e in EnrollmentEvent.objects.filter(enrollment=enrollment)]
    assert history[-1] == "By the automation rule “Enroll when Lifecycle stage becomes Customer”."


def test_a_contact_the_preflight_refuses_is_skipped_with_the_reason(
    rep, owner, sequence, inbox, django_capture_on_commit_callbacks
):
    rule(sequence, owner, value="customer")
    unsubscribed = ContactFactory(owner=owner, first_name="Uma")
    ContactOptOut.objects.create(contact=unsubscribed, source=OptOutSource.ONE_CLICK)
    elsewhere = ContactFactory(owner=owner, first_name="Eli")
    other = three_steps(owner)
    type(other).objects.filter(pk=other.pk).update(name="Another")
    enroll(owner, other, plans([elsewhere]), inbox)
    for person in (unsubscribed, elsewhere):
        with django_capture_on_commit_callbacks(execute=True):
            assert edit_contact(rep, person, lifecycle_stage="customer").status_code == 302
    skipped = {f.contact_id: f for f in RuleFiring.objects.all()}
    assert {f.outcome for f in skipped.values()} == {Outcome.SKIPPED}
    assert "opted out of all email" in skipped[unsubscribed.pk].reason
    assert "Already in the sequence “Another”" in skipped[elsewhere.pk].reason
    assert not Enrollment.objects.filter(sequence=sequence).exists()


def test_an_unenroll_rule_ends_the_live_enrollment_for_automation(
    rep, owner, contact, sequence, inbox, django_capture_on_commit_callbacks
):
    [enrollment] = enroll(owner, sequence, plans([contact]), inbox)
    rule(sequence, owner, action=Action.UNENROLL, value="other")
    with django_capture_on_commit_callbacks(execute=True):
        edit_contact(rep, contact, lifecycle_stage="other")
    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.ENDED
    assert enrollment.end_reason == EndReason.AUTOMATION
    assert RuleFiring.objects.get().outcome == Outcome.UNENROLLED
    last = EnrollmentEvent.objects.filter(enrollment=enrollment).last()
    assert "Unenroll when Lifecycle stage becomes Other" in last.detail


def test_an_unenroll_rule_skips_a_contact_not_in_the_sequence(
    rep, owner, contact, sequence, django_capture_on_commit_callbacks
):
    rule(sequence, owner, action=Action.UNENROLL, value="other")
    with django_capture_on_commit_callbacks(execute=True):
        edit_contact(rep, contact, lifecycle_stage="other")
    firing = RuleFiring.objects.get()
    assert (firing.outcome, firing.reason) == (Outcome.SKIPPED, "Not enrolled in this sequence.")


def test_a_rule_that_is_off_does_nothing(
    rep, owner, contact, sequence, django_capture_on_commit_callbacks
):
    rule(sequence, owner, value="customer", enabled=False)
    with django_capture_on_commit_callbacks(execute=True):
        edit_contact(rep, contact, lifecycle_stage="customer")
    assert not RuleFiring.objects.exists()
    assert not Enrollment.objects.exists()


def test_a_broken_rule_is_logged_as_an_error_and_the_edit_stands(
    rep, owner, contact, sequence, django_capture_on_commit_callbacks
):
    # A zone no longer valid (saved past the form's check): enrolling raises, not refuses.
    type(owner).objects.filter(pk=owner.pk).update(time_zone="Mars/Olympus_Mons")
    rule(sequence, owner, value="customer")
    with django_capture_on_commit_callbacks(execute=True):
        response = edit_contact(rep, contact, lifecycle_stage="customer", job_title="CEO")
    assert response.status_code == 302
    contact.refresh_from_db()
    assert (contact.lifecycle_stage, contact.job_title) == ("customer", "CEO")
    firing = RuleFiring.objects.get()
    assert firing.outcome == Outcome.ERROR
    assert "nothing was changed" in firing.reason
    assert not Enrollment.objects.exists()


def test_the_queries_of_a_change_do_not_grow_with_the_rules(
    rep, owner, sequence, django_capture_on_commit_callbacks
):
    def queries_of_an_edit(rules: int) -> int:
        person = ContactFactory(owner=owner)
        for n in range(rules):
            rule(sequence, owner, prop="job_title", value=f"Title {n}")
            rule(sequence, owner, prop="lifecycle_stage", value="evangelist")
        with CaptureQueriesContext(connection) as queries:
            with django_capture_on_commit_callbacks(execute=True):
                edit_contact(rep, person, lifecycle_stage="customer", job_title="CTO")
        return len(queries)

    assert queries_of_an_edit(1) == queries_of_an_edit(20)


def test_a_creation_through_the_form_sends_record_changed_from_none(
    rep, owner, events, django_capture_on_commit_callbacks
):
    from django.urls import reverse

    data = {"first_name": "Nina", "lifecycle_stage": "lead", "owner": owner.pk}
    with django_capture_on_commit_callbacks(execute=True):
        response = rep.post(reverse("records:create", args=["contacts"]), data)
    assert response.status_code == 302
    [event] = events
    assert event.kind == "contact"
    assert event.changed == {
        "first_name": (None, "Nina"),
        "lifecycle_stage": (None, "lead"),
        "owner": (None, owner.pk),
    }
