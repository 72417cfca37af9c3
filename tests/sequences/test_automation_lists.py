"""Automation rules on saved lists and on creation: a contact added to a list (records'
`list_members_added`) fires the enabled rules on that list, each firing logged as a property
rule's is (enrolled through the preflight, skipped with the reason, unenrolled); and a contact
created with a property at a watched value fires that property's rules."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from privacy.constants import OptOutSource
from privacy.models import ContactOptOut
from records.lists import services as lists
from records.models import Contact
from sequences.automation.models import Action, AutomationRule, Outcome, RuleFiring, Trigger
from sequences.automation.services import describe
from sequences.constants import EndReason, EnrollmentStatus
from sequences.enrollment.services import enroll
from sequences.models import Enrollment, EnrollmentEvent
from tests.factories import ContactFactory

from .automation_support import rule
from .enrollment_support import inbox_of, plans, three_steps

pytestmark = pytest.mark.django_db


@pytest.fixture
def inbox(owner):
    return inbox_of(owner)


@pytest.fixture
def sequence(owner, inbox):
    return three_steps(owner)


@pytest.fixture
def fair(owner):
    return lists.list_create(owner, "Trade fair 2026")


def list_rule(sequence, owner, contact_list, action=Action.ENROLL, **kw):
    return AutomationRule.objects.create(
        sequence=sequence,
        owner=owner,
        created_by=owner,
        action=action,
        trigger=Trigger.LIST,
        contact_list=contact_list,
        **kw,
    )


def add_through_the_page(client, contact_list, contacts):
    """The contacts index's "Add to list", as a rep posts it."""
    return client.post(
        reverse("records:contact-list-add"),
        {"id": [c.pk for c in contacts], "contact_list": contact_list.pk},
    )


def test_adding_to_the_list_enrolls_and_skips_a_refused_contact_with_the_reason(
    client, owner, sequence, fair, django_capture_on_commit_callbacks
):
    enrolling = list_rule(sequence, owner, fair)
    ann = ContactFactory(owner=owner, first_name="Ann")
    uma = ContactFactory(owner=owner, first_name="Uma")
    ContactOptOut.objects.create(contact=uma, source=OptOutSource.ONE_CLICK)
    client.force_login(owner)
    with django_capture_on_commit_callbacks(execute=True):
        assert add_through_the_page(client, fair, [ann, uma]).status_code == 302
    firings = {f.contact_id: f for f in RuleFiring.objects.all()}
    assert firings[ann.pk].outcome == Outcome.ENROLLED and firings[ann.pk].rule == enrolling
    enrollment = Enrollment.objects.get()
    assert (enrollment.contact, enrollment.sequence) == (ann, sequence)
    assert enrollment.status == EnrollmentStatus.ACTIVE
    history = [e.detail for e in EnrollmentEvent.objects.filter(enrollment=enrollment)]
    assert (
        history[-1] == "By the automation rule “Enroll when added to the list “Trade fair 2026””."
    )
    assert firings[uma.pk].outcome == Outcome.SKIPPED
    assert "opted out of all email" in firings[uma.pk].reason
    # Adding them again is no change: no firing.
    with django_capture_on_commit_callbacks(execute=True):
        add_through_the_page(client, fair, [ann, uma])
    assert RuleFiring.objects.count() == 2


def test_an_unenroll_rule_ends_the_enrollment_when_added(
    owner, sequence, inbox, fair, contact, django_capture_on_commit_callbacks
):
    [enrollment] = enroll(owner, sequence, plans([contact]), inbox)
    list_rule(sequence, owner, fair, action=Action.UNENROLL)
    with django_capture_on_commit_callbacks(execute=True):
        lists.members_add(owner, fair, [contact.pk])
    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.end_reason) == (
        EnrollmentStatus.ENDED,
        EndReason.AUTOMATION,
    )
    assert RuleFiring.objects.get().outcome == Outcome.UNENROLLED


def test_rules_that_are_off_or_on_another_list_or_on_a_property_do_not_fire(
    owner, sequence, fair, contact, django_capture_on_commit_callbacks
):
    other = lists.list_create(owner, "Webinar")
    list_rule(sequence, owner, fair, enabled=False)
    list_rule(sequence, owner, other)
    rule(sequence, owner, value="lead")  # the contact is a lead already
    with django_capture_on_commit_callbacks(execute=True):
        lists.members_add(owner, fair, [contact.pk])
    assert not RuleFiring.objects.exists()
    assert not Enrollment.objects.exists()


def test_a_deleted_list_leaves_its_rules_inert_with_their_log(owner, sequence, fair):
    kept = list_rule(sequence, owner, fair)
    fair.delete()
    kept.refresh_from_db()
    assert kept.contact_list is None
    assert describe(kept) == "Enroll when added to a list since deleted"


def test_the_rules_of_a_list_are_read_in_one_query(
    owner, sequence, fair, django_capture_on_commit_callbacks
):
    def queries_to_find_rules(rules: int) -> int:
        for _ in range(rules):
            list_rule(sequence, owner, fair, action=Action.UNENROLL, enabled=False)
        person = ContactFactory(owner=owner)
        with CaptureQueriesContext(connection) as queries:
            with django_capture_on_commit_callbacks(execute=True):
                lists.members_add(owner, fair, [person.pk])
        return len(queries)

    assert queries_to_find_rules(1) == queries_to_find_rules(20)


def test_the_automation_tab_adds_a_list_rule(client, owner, sequence, fair):
    client.force_login(owner)
    page = reverse("sequences:automation", args=[sequence.pk])
    redrawn = client.get(
        page,
        {"action": "enroll", "trigger": "list"},
        headers={"HX-Request": "true", "HX-Target": "rule-form"},
    ).content.decode()
    assert '<select name="contact_list"' in redrawn and 'name="property"' not in redrawn
    # Without script, "Show its fields" does the same.
    shown = client.post(page, {"action": "enroll", "trigger": "list", "choose": "1"})
    assert '<select name="contact_list"' in shown.content.decode()
    assert not AutomationRule.objects.exists()
    response = client.post(
        page, {"action": "enroll", "trigger": "list", "contact_list": fair.pk}, follow=True
    )
    added = AutomationRule.objects.get()
    assert (added.trigger, added.contact_list, added.property) == ("list", fair, "")
    assert "Enroll when added to the list “Trade fair 2026”" in response.content.decode()


# A contact created with the watched value.


def test_a_contact_created_with_the_value_fires_the_rule(
    client, owner, sequence, django_capture_on_commit_callbacks
):
    rule(sequence, owner, value="customer")
    rule(sequence, owner, prop="job_title", value="CFO")
    client.force_login(owner)
    data = {
        "first_name": "Nina",
        "last_name": "New",
        "lifecycle_stage": "customer",
        "job_title": "CTO",
        "owner": owner.pk,
        "primary_email": "nina@new.example",
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("records:create", args=["contacts"]), data)
    assert response.status_code == 302
    nina = Contact.objects.get(first_name="Nina")
    outcomes = {f.rule.property: f.outcome for f in RuleFiring.objects.filter(contact=nina)}
    assert outcomes == {"lifecycle_stage": Outcome.ENROLLED}  # not the CFO rule
    assert Enrollment.objects.get().contact == nina


def test_a_contact_created_with_another_value_fires_nothing(
    client, owner, sequence, django_capture_on_commit_callbacks
):
    rule(sequence, owner, value="customer")
    client.force_login(owner)
    data = {"first_name": "Leo", "lifecycle_stage": "lead", "owner": owner.pk}
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("records:create", args=["contacts"]), data)
    assert Contact.objects.filter(first_name="Leo").exists()
    assert not RuleFiring.objects.exists()
