"""Admin settings: the privacy switch, subscription types and the audit trail with CSV."""

import csv
import io
from datetime import timedelta

import pytest
from django.utils import timezone

from privacy.constants import EventKind
from privacy.models import PrivacyEvent, PrivacySettings, SubscriptionType
from privacy.services import authorize_send, one_time_basis_record, opt_out_of_all
from tests.factories import ContactFactory

ADMIN_PAGES = [
    "/settings/privacy/",
    "/settings/privacy/types/{pk}/",
    "/settings/privacy/audit/",
    "/settings/privacy/audit/export.csv",
]


@pytest.mark.parametrize("url", ADMIN_PAGES)
def test_privacy_settings_are_closed_to_non_admins(client, teammate, viewer, one_to_one, url):
    url = url.format(pk=one_to_one.pk)
    for user in (teammate, viewer):
        client.force_login(user)
        assert client.get(url).status_code == 403
    client.logout()
    assert client.get(url).status_code == 302


def test_non_admin_cannot_change_settings_or_types(client, teammate, one_to_one):
    client.force_login(teammate)
    assert (
        client.post("/settings/privacy/", {"action": "settings", "gdpr_enabled": "on"}).status_code
        == 403
    )
    url = f"/settings/privacy/types/{one_to_one.pk}/"
    assert client.post(url, {"name": "Hacked", "is_active": ""}).status_code == 403
    assert not PrivacySettings.objects.filter(gdpr_enabled=True).exists()
    one_to_one.refresh_from_db()
    assert one_to_one.name == "One to one"


def test_admin_turns_privacy_rules_on_and_off(client, admin_user):
    client.force_login(admin_user)
    page = client.get("/settings/privacy/").content.decode()
    assert "One to one" in page and "Transactional" in page and "Privacy audit" in page
    client.post("/settings/privacy/", {"action": "settings", "gdpr_enabled": "on"})
    assert PrivacySettings.load().gdpr_enabled
    client.post("/settings/privacy/", {"action": "settings"})
    assert not PrivacySettings.load().gdpr_enabled
    assert [e.details["gdpr_enabled"] for e in PrivacyEvent.objects.order_by("pk")] == [
        True,
        False,
    ]


def test_admin_creates_renames_and_deactivates_a_type(client, admin_user):
    client.force_login(admin_user)
    client.post(
        "/settings/privacy/",
        {"action": "create-type", "new-name": "Product news", "new-is_active": "on"},
    )
    created = SubscriptionType.objects.get(name="Product news")
    assert (created.kind, created.is_builtin, created.is_active) == ("other", False, True)
    client.post(f"/settings/privacy/types/{created.pk}/", {"name": "Release notes"})
    created.refresh_from_db()
    assert (created.name, created.is_active) == ("Release notes", False)


def test_duplicate_type_name_is_refused(client, admin_user, one_to_one):
    client.force_login(admin_user)
    response = client.post(
        "/settings/privacy/", {"action": "create-type", "new-name": "One to one"}
    )
    assert "already exists" in response.content.decode()
    assert SubscriptionType.objects.filter(name="One to one").count() == 1


def test_builtin_types_cannot_be_deactivated_or_deleted(client, admin_user, one_to_one):
    client.force_login(admin_user)
    url = f"/settings/privacy/types/{one_to_one.pk}/"
    client.post(url, {"name": "Personal email"})  # no is_active: the field is disabled
    one_to_one.refresh_from_db()
    assert (one_to_one.name, one_to_one.is_active) == ("Personal email", True)
    response = client.post(url, {"action": "delete"})
    assert "cannot be deleted" in response.content.decode()
    assert SubscriptionType.objects.filter(pk=one_to_one.pk).exists()


def test_unused_type_can_be_deleted(client, admin_user, newsletter):
    client.force_login(admin_user)
    client.post(f"/settings/privacy/types/{newsletter.pk}/", {"action": "delete"})
    assert not SubscriptionType.objects.filter(pk=newsletter.pk).exists()


@pytest.fixture
def decisions(owner, gdpr_on):
    """A one-time allow and a refusal for Ada; a refusal two days ago for a contact whose
    name a spreadsheet would run as a formula."""
    ada = ContactFactory(first_name="Ada", last_name="Lovelace", owner=owner)
    bob = ContactFactory(first_name="", last_name="=HYPERLINK(1)", owner=owner)
    once = one_time_basis_record(ada, owner, "contract", "=cmd|' /C calc'!A0")
    authorize_send(ada, "one_to_one", actor=owner, message_ref="<a1@crm>", one_time_basis=once)
    authorize_send(ada, "sequence", actor=owner, message_ref="<a2@crm>")
    authorize_send(bob, "one_to_one", actor=owner, message_ref="<b1@crm>")
    PrivacyEvent.objects.filter(message_ref="<b1@crm>").update(
        at=timezone.now() - timedelta(days=2)
    )
    opt_out_of_all(bob, source="rep", actor=owner)
    return ada, bob


def rows_of(response):
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_audit_lists_send_decisions_by_default(client, admin_user, decisions):
    client.force_login(admin_user)
    response = client.get("/settings/privacy/audit/")
    events = list(response.context["events"])
    assert [e.message_ref for e in events] == ["<a2@crm>", "<a1@crm>", "<b1@crm>"]
    assert {e.kind for e in events} == {EventKind.SEND_ALLOWED_ONE_TIME, EventKind.SEND_REFUSED}
    all_events = client.get("/settings/privacy/audit/?kind=all").context["events"]
    assert len(all_events) > 3


def test_audit_filters_by_contact_kind_and_date(client, admin_user, decisions):
    ada, bob = decisions
    client.force_login(admin_user)

    def refs(query):
        events = client.get(f"/settings/privacy/audit/?{query}").context["events"]
        return sorted(e.message_ref for e in events)

    assert refs("contact=lovelace") == ["<a1@crm>", "<a2@crm>"]
    assert refs(f"contact={bob.pk}") == ["<b1@crm>"]
    assert refs("kind=send_refused") == ["<a2@crm>", "<b1@crm>"]
    today = timezone.localdate().isoformat()
    assert refs(f"start={today}") == ["<a1@crm>", "<a2@crm>"]
    assert refs(f"end={(timezone.localdate() - timedelta(days=1)).isoformat()}") == ["<b1@crm>"]
    assert refs("start=not-a-date&contact=ada") == ["<a1@crm>", "<a2@crm>"]


def test_audit_pages(client, admin_user, owner, settings, gdpr_on):
    contact = ContactFactory(owner=owner)
    for i in range(55):
        authorize_send(contact, "sequence", actor=owner, message_ref=f"<{i}@crm>")
    client.force_login(admin_user)
    first = client.get("/settings/privacy/audit/")
    assert len(first.context["events"]) == 50 and "Page 1 of 2" in first.content.decode()
    second = client.get("/settings/privacy/audit/?page=2", HTTP_HX_REQUEST="true")
    body = second.content.decode()
    assert body.lstrip().startswith('<div id="audit-results"') and "<html" not in body
    assert len(second.context["events"]) == 5


def test_audit_csv_export(client, admin_user, decisions):
    ada, _ = decisions
    client.force_login(admin_user)
    response = client.get("/settings/privacy/audit/export.csv?contact=ada")
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    header, *rows = rows_of(response)
    assert header[:4] == ["at", "kind", "contact_id", "contact"]
    assert [(r[1], r[2], r[7], r[8]) for r in rows] == [
        ("send_refused", str(ada.pk), "<a2@crm>", "no_legal_basis"),
        ("send_allowed_one_time", str(ada.pk), "<a1@crm>", "one_time_basis"),
    ]
    # Free text that a spreadsheet would run as a formula is defused.
    everything = rows_of(client.get("/settings/privacy/audit/export.csv?kind=all"))
    assert "'=HYPERLINK(1)" in [row[3] for row in everything]
    assert all(not cell.startswith("=") for row in everything for cell in row)
