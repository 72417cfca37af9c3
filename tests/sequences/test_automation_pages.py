"""The Automation tab through the test client: adding a rule (a dropdown property's values
only), turning it off and on, deleting it, the log, and who may change rules."""

import pytest
from django.urls import reverse

from sequences.automation.models import AutomationRule, Outcome, RuleFiring

from .automation_support import rule
from .enrollment_support import three_steps

pytestmark = pytest.mark.django_db


@pytest.fixture
def sequence(owner):
    return three_steps(owner)


@pytest.fixture
def page(sequence):
    return reverse("sequences:automation", args=[sequence.pk])


def test_the_sequence_page_links_to_its_automation_tab(client, owner, sequence, page):
    client.force_login(owner)
    response = client.get(reverse("sequences:detail", args=[sequence.pk]))
    assert f'href="{page}"' in response.content.decode()


def test_the_owner_adds_a_rule_on_a_dropdown_property(client, owner, sequence, page):
    client.force_login(owner)
    data = {"action": "enroll", "property": "lifecycle_stage", "value": "lead"}
    response = client.post(page, data, follow=True)
    added = AutomationRule.objects.get()
    assert (added.sequence, added.owner, added.created_by) == (sequence, owner, owner)
    assert (added.action, added.property, added.value, added.enabled) == (
        "enroll",
        "lifecycle_stage",
        "lead",
        True,
    )
    assert "Enroll when Lifecycle stage becomes Lead" in response.content.decode()
    assert added.trigger == "property" and added.contact_list is None
    assert "not available yet" not in response.content.decode()


def test_a_text_property_takes_any_value(client, owner, page):
    client.force_login(owner)
    client.post(page, {"action": "unenroll", "property": "job_title", "value": " CTO "})
    assert AutomationRule.objects.get().value == "CTO"


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"action": "enroll", "property": "salary", "value": "1"}, "property", "Choose one of"),
        (
            {"action": "enroll", "property": "lifecycle_stage", "value": "boss"},
            "value",
            "Choose one of the values of Lifecycle stage.",
        ),
        ({"action": "enroll", "property": "job_title", "value": ""}, "value", "Type the value"),
        ({"action": "enroll", "trigger": "list"}, "contact_list", "Choose the list."),
        (
            {"action": "enroll", "trigger": "list", "contact_list": "999"},
            "contact_list",
            "That list no longer exists",
        ),
    ],
)
def test_bad_input_is_refused_beside_its_field(client, owner, page, data, field, message):
    client.force_login(owner)
    response = client.post(page, data)
    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors[field])
    assert not AutomationRule.objects.exists()


def test_choosing_a_property_redraws_the_form_with_its_values(client, owner, page):
    client.force_login(owner)
    response = client.get(
        page,
        {"action": "enroll", "property": "lifecycle_stage"},
        headers={"HX-Request": "true", "HX-Target": "rule-form"},
    )
    html = response.content.decode()
    assert html.lstrip().startswith("<form")
    assert '<select name="value"' in html
    assert '<option value="salesqualifiedlead">Sales qualified lead</option>' in html
    # Without script, "Show its fields" does the same.
    response = client.post(page, {"action": "enroll", "property": "lifecycle_stage", "choose": "1"})
    assert '<select name="value"' in response.content.decode()
    assert not AutomationRule.objects.exists()


def test_a_rule_is_turned_off_and_on_and_deleted(client, owner, sequence):
    client.force_login(owner)
    kept = rule(sequence, owner)
    toggle = reverse("sequences:rule-toggle", args=[sequence.pk, kept.pk])
    client.post(toggle)
    kept.refresh_from_db()
    assert not kept.enabled
    client.post(toggle)
    kept.refresh_from_db()
    assert kept.enabled
    client.post(reverse("sequences:rule-delete", args=[sequence.pk, kept.pk]))
    assert not AutomationRule.objects.exists()


def test_the_log_shows_each_firing_with_its_reason(client, owner, contact, sequence, page):
    fired = rule(sequence, owner)
    RuleFiring.objects.create(
        rule=fired, contact=contact, outcome=Outcome.SKIPPED, reason="Already in the sequence “X”."
    )
    client.force_login(owner)
    html = client.get(page).content.decode()
    assert "Olivia Owned" in html
    assert "Skipped" in html
    assert "Already in the sequence “X”." in html


@pytest.mark.parametrize("who", ["teammate", "viewer"])
def test_others_read_but_may_not_change(client, request, owner, sequence, page, who):
    kept = rule(sequence, owner)
    client.force_login(request.getfixturevalue(who))
    html = client.get(page).content.decode()
    assert "Enroll when Lifecycle stage becomes Customer" in html
    assert "Add rule" not in html and "Turn off" not in html
    data = {"action": "enroll", "property": "job_title", "value": "CTO"}
    assert client.post(page, data).status_code == 403
    for name in ("sequences:rule-toggle", "sequences:rule-delete"):
        assert client.post(reverse(name, args=[sequence.pk, kept.pk])).status_code == 403
    kept.refresh_from_db()
    assert kept.enabled and AutomationRule.objects.count() == 1


def test_an_admin_may_change_anyones_rules(client, admin_user, owner, sequence):
    kept = rule(sequence, owner)
    client.force_login(admin_user)
    client.post(reverse("sequences:rule-toggle", args=[sequence.pk, kept.pk]))
    kept.refresh_from_db()
    assert not kept.enabled


def test_a_rule_of_another_sequence_is_not_found_here(client, owner, sequence):
    other = three_steps(owner)
    elsewhere = rule(other, owner)
    client.force_login(owner)
    url = reverse("sequences:rule-delete", args=[sequence.pk, elsewhere.pk])
    assert client.post(url).status_code == 404
