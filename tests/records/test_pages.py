"""Record pages: forms keep input and explain errors, the timeline pages by keyset, CSRF holds."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from records import timeline
from records.constants import ActivityKind
from records.models import Activity, ActivityLink, Contact, ContactEmail
from records.services import association_create
from tests.factories import CompanyFactory, ContactFactory, DealFactory


def add_notes(record, user, count):
    start = timezone.now() - timedelta(days=1)
    for i in range(count):
        timeline.log(
            ActivityKind.NOTE,
            [record],
            created_by=user,
            body=f"note {i}",
            occurred_at=start + timedelta(minutes=i),
        )


def test_invalid_contact_form_keeps_input_and_explains(client, owner, contact):
    client.force_login(owner)
    response = client.post(
        f"/records/contacts/{contact.pk}/edit/",
        {
            "first_name": "Olivia",
            "primary_email": "olivia@acme.example",
            "other_emails": "fine@x.example, not-an-address",
            "lifecycle_stage": "lead",
        },
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "Not valid email addresses: not-an-address" in body
    assert "fine@x.example, not-an-address" in body  # what the user typed is kept
    assert ContactEmail.objects.filter(contact=contact).count() == 2  # nothing saved


def test_contact_needs_a_name_or_an_address(client, owner):
    client.force_login(owner)
    response = client.post("/records/contacts/new/", {"lifecycle_stage": "lead"})
    assert "Give the contact a name or an email address." in response.content.decode()
    assert not Contact.objects.exists()


def test_creating_a_contact_sets_the_primary_address_and_redirects(client, owner):
    client.force_login(owner)
    response = client.post(
        "/records/contacts/new/",
        {
            "first_name": "Nina",
            "last_name": "New",
            "primary_email": "Nina@Example.com",
            "other_emails": "nina@home.example\nnina@example.com",
            "lifecycle_stage": "lead",
            "owner": owner.pk,
        },
    )
    contact = Contact.objects.get()
    assert response.status_code == 302 and response.url == f"/records/contacts/{contact.pk}/"
    assert contact.email == "nina@example.com"
    assert list(contact.emails.values_list("address", "is_primary")) == [
        ("nina@example.com", True),
        ("nina@home.example", False),
    ]


def test_changing_the_primary_address_keeps_one_primary(client, owner, contact):
    client.force_login(owner)
    client.post(
        f"/records/contacts/{contact.pk}/edit/",
        {
            "first_name": "Olivia",
            "primary_email": "o.owned@home.example",
            "other_emails": "olivia@acme.example",
            "lifecycle_stage": "lead",
            "owner": owner.pk,
        },
    )
    contact.refresh_from_db()
    assert contact.email == "o.owned@home.example"
    assert ContactEmail.objects.filter(contact=contact, is_primary=True).count() == 1


def test_deal_form_rejects_negative_amount(client, owner):
    client.force_login(owner)
    response = client.post(
        "/records/deals/new/", {"name": "Big", "stage": "qualifiedtobuy", "amount": "-5"}
    )
    assert "The amount cannot be negative." in response.content.decode()
    assert 'value="-5"' in response.content.decode()


def test_empty_note_is_refused_with_a_message(client, owner, contact):
    client.force_login(owner)
    response = client.post(
        f"/records/contacts/{contact.pk}/notes/", {"body": "   "}, HTTP_HX_REQUEST="true"
    )
    assert "A note cannot be empty." in response.content.decode()
    assert not Activity.objects.filter(kind=ActivityKind.NOTE).exists()


def test_note_added_by_htmx_returns_fresh_form_and_the_new_item(client, owner, contact):
    client.force_login(owner)
    response = client.post(
        f"/records/contacts/{contact.pk}/notes/",
        {"body": "Called <b>them</b>"},
        HTTP_HX_REQUEST="true",
    )
    body = response.content.decode()
    assert 'hx-swap-oob="afterbegin:#timeline-items"' in body
    assert "Called &lt;b&gt;them&lt;/b&gt;" in body  # escaped, never raw HTML
    assert ActivityLink.objects.filter(record=contact).count() == 1


def test_timeline_is_newest_first_and_pages_without_gaps(client, owner, contact):
    add_notes(contact, owner, 45)
    client.force_login(owner)
    first = client.get(f"/records/contacts/{contact.pk}/").context["timeline"]
    seen = [a.body for a in first.activities]
    cursor = first.next_cursor
    while cursor:
        page = client.get(
            f"/records/contacts/{contact.pk}/timeline/", {"cursor": cursor}, HTTP_HX_REQUEST="true"
        ).context["timeline"]
        seen += [a.body for a in page.activities]
        cursor = page.next_cursor
    assert seen == [f"note {i}" for i in reversed(range(45))]


def test_timeline_with_equal_timestamps_pages_by_id(client, owner, contact):
    same = timezone.now()
    for i in range(30):
        timeline.log(ActivityKind.NOTE, [contact], created_by=owner, body=f"n{i}", occurred_at=same)
    client.force_login(owner)
    first = client.get(f"/records/contacts/{contact.pk}/").context["timeline"]
    second = client.get(
        f"/records/contacts/{contact.pk}/timeline/", {"cursor": first.next_cursor}
    ).context["timeline"]
    bodies = [a.body for a in first.activities + second.activities]
    assert sorted(bodies) == sorted(f"n{i}" for i in range(30)) and len(set(bodies)) == 30


def test_record_page_query_count_does_not_grow_with_the_timeline(owner):
    small, large = ContactFactory(owner=owner), ContactFactory(owner=owner)
    add_notes(small, owner, 3)
    add_notes(large, owner, 120)
    client = Client()
    client.force_login(owner)

    def queries(contact):
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(f"/records/contacts/{contact.pk}/").status_code == 200
        return len(ctx.captured_queries)

    assert queries(small) == queries(large)


def test_activity_logged_on_several_records_shows_on_each(client, owner, contact):
    company = CompanyFactory(owner=owner)
    timeline.log(ActivityKind.NOTE, [contact, company], created_by=owner, body="both")
    client.force_login(owner)
    for url in (f"/records/contacts/{contact.pk}/", f"/records/companies/{company.pk}/"):
        assert b"both" in client.get(url).content


def test_associations_are_shown_on_both_records_and_removable(client, owner, contact):
    deal = DealFactory(name="Renewal 2027", owner=owner)
    client.force_login(owner)
    client.post(f"/records/contacts/{contact.pk}/associations/", {"record_id": deal.pk})
    assert b"Renewal 2027" in client.get(f"/records/contacts/{contact.pk}/").content
    assert b"Olivia Owned" in client.get(f"/records/deals/{deal.pk}/").content
    client.post(f"/records/deals/{deal.pk}/associations/{contact.pk}/remove/")
    assert b"Renewal 2027" not in client.get(f"/records/contacts/{contact.pk}/").content


def test_associating_a_record_with_itself_is_refused(client, owner, contact):
    client.force_login(owner)
    url = f"/records/contacts/{contact.pk}/associations/"
    assert client.post(url, {"record_id": contact.pk}).status_code == 404
    association_create(contact, DealFactory(owner=owner))  # harmless twice
    assert contact.links_out.count() == 1


@pytest.mark.django_db
def test_wrong_csrf_token_is_refused():
    from tests.factories import UserFactory

    user = UserFactory()
    contact = ContactFactory(owner=user)
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    response = client.post(
        f"/records/contacts/{contact.pk}/notes/", {"body": "x"}, HTTP_X_CSRFTOKEN="forged"
    )
    assert response.status_code == 403
    assert not Activity.objects.exists()


@pytest.mark.parametrize(
    "params, expected",
    [
        ({"q": "acme"}, ["Olivia Owned"]),
        ({"q": "home.example"}, ["Olivia Owned"]),
        ({"lifecycle_stage": "customer"}, ["Cara Customer"]),
        ({"sort": "-name"}, ["Olivia Owned", "Cara Customer", "Bob Builder"]),
        ({"owner": "none"}, []),
    ],
)
def test_contact_list_search_filter_sort(client, owner, contact, params, expected):
    ContactFactory(first_name="Bob", last_name="Builder", owner=owner, emails=["bob@b.example"])
    ContactFactory(
        first_name="Cara",
        last_name="Customer",
        owner=owner,
        lifecycle_stage="customer",
        emails=["cara@c.example"],
    )
    client.force_login(owner)
    rows = client.get("/records/contacts/", params).context["rows"]
    names = [record.name for record, _ in rows]
    if "sort" in params:
        assert names == expected
    else:
        assert names == expected


def test_list_paginates_and_htmx_gets_only_the_results(client, owner):
    for i in range(30):
        ContactFactory(first_name=f"P{i:02d}", owner=owner)
    client.force_login(owner)
    page2 = client.get(
        "/records/contacts/",
        {"page": 2, "sort": "name"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="results",
    )
    body = page2.content.decode()
    assert "<html" not in body and 'id="results"' in body
    assert len(page2.context["rows"]) == 5
    assert "Page 2 of 2" in body


def test_a_note_is_edited_in_place_by_its_author_only(client, owner, teammate, contact):
    from records.services import note_create

    note = note_create(owner, contact, "First draft")
    url = f"/records/contacts/{contact.pk}/notes/{note.pk}/edit/"
    client.force_login(teammate)
    assert client.post(url, {"body": "Hijacked"}, HTTP_HX_REQUEST="true").status_code == 403
    client.force_login(owner)
    assert "First draft" in client.get(url, HTTP_HX_REQUEST="true").content.decode()
    empty = client.post(url, {"body": "  "}, HTTP_HX_REQUEST="true").content.decode()
    assert "A note cannot be empty." in empty
    saved = client.post(url, {"body": "Final words"}, HTTP_HX_REQUEST="true").content.decode()
    assert "Final words" in saved
    note.refresh_from_db()
    assert note.body == "Final words"


def test_a_meeting_names_only_attendees_the_user_may_see(client, owner, outsider):
    company = CompanyFactory(owner=owner)
    mine = ContactFactory(owner=owner)
    theirs = ContactFactory(owner=outsider)
    association_create(company, mine)
    association_create(company, theirs)
    client.force_login(owner)
    page = client.get(f"/records/companies/{company.pk}/").content.decode()
    assert mine.name in page and theirs.name not in page
    url = f"/records/companies/{company.pk}/meetings/"
    meeting = {
        "title": "Kick-off",
        "starts_at": "2031-01-02T09:30",
        "duration_minutes": "30",
        "outcome": "scheduled",
    }
    refused = client.post(url, meeting | {"attendees": [theirs.pk]}, HTTP_HX_REQUEST="true")
    assert "Select a valid choice" in refused.content.decode()
    assert not Activity.objects.filter(kind=ActivityKind.MEETING).exists()

    client.post(url, meeting | {"attendees": [mine.pk]}, HTTP_HX_REQUEST="true")
    activity = Activity.objects.get(kind=ActivityKind.MEETING)
    assert activity.meeting_outcome == "scheduled" and activity.duration_minutes == 30
    on = set(ActivityLink.objects.filter(activity=activity).values_list("record_id", flat=True))
    assert on == {company.pk, mine.pk}


def test_a_view_only_seat_cannot_log_a_meeting(client, viewer, contact):
    client.force_login(viewer)
    response = client.post(
        f"/records/contacts/{contact.pk}/meetings/",
        {
            "title": "x",
            "starts_at": "2031-01-02T09:30",
            "duration_minutes": "30",
            "outcome": "scheduled",
        },
    )
    assert response.status_code in (403, 404)
    assert not Activity.objects.filter(kind=ActivityKind.MEETING).exists()
