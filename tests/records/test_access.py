"""Record access is enforced on the server for every view: outside your access is a 404."""

import pytest

from records.models import Association
from records.services import association_create, note_create, task_create
from tests.factories import ContactFactory, DealFactory

RECORD_GETS = [
    "/records/contacts/{pk}/",
    "/records/contacts/{pk}/edit/",
    "/records/contacts/{pk}/timeline/",
    "/records/contacts/{pk}/associations/candidates/?target_type=deals",
]


@pytest.fixture
def task(owner, contact):
    return task_create(owner, contact, title="Call back", task_type="call")


def record_posts(contact, task, deal):
    return [
        (
            f"/records/contacts/{contact.pk}/edit/",
            {"first_name": "X", "primary_email": "x@x.example"},
        ),
        (f"/records/contacts/{contact.pk}/notes/", {"body": "sneaky"}),
        (f"/records/contacts/{contact.pk}/tasks/", {"title": "t", "task_type": "todo"}),
        (f"/records/contacts/{contact.pk}/tasks/{task.pk}/toggle/", {}),
        (f"/records/contacts/{contact.pk}/associations/", {"record_id": deal.pk}),
        (f"/records/contacts/{contact.pk}/associations/{deal.pk}/remove/", {}),
    ]


@pytest.mark.parametrize("url", RECORD_GETS)
def test_outsider_gets_404_on_every_record_page(client, outsider, contact, url):
    client.force_login(outsider)
    assert client.get(url.format(pk=contact.pk)).status_code == 404


@pytest.mark.parametrize("url", RECORD_GETS)
def test_owner_and_teammate_can_open_every_record_page(client, owner, teammate, contact, url):
    for user in (owner, teammate):
        client.force_login(user)
        assert client.get(url.format(pk=contact.pk)).status_code == 200


def test_outsider_cannot_change_anything_on_the_record(client, owner, outsider, contact, task):
    deal = DealFactory(owner=outsider)
    association_create(contact, deal)
    client.force_login(outsider)
    for url, data in record_posts(contact, task, deal):
        assert client.post(url, data).status_code == 404, url
    contact.refresh_from_db()
    assert contact.first_name == "Olivia"
    assert contact.activity_links.count() == 1  # only the task
    assert Association.objects.filter(from_record=contact).count() == 1


def test_view_only_seat_sees_the_record_but_cannot_change_it(client, viewer, contact, task):
    deal = DealFactory(owner=contact.owner)
    client.force_login(viewer)
    page = client.get(f"/records/contacts/{contact.pk}/")
    assert page.status_code == 200
    assert b'id="note-form"' not in page.content
    for url, data in record_posts(contact, task, deal):
        assert client.post(url, data).status_code == 403, url
    assert client.get(f"/records/contacts/{contact.pk}/edit/").status_code == 403
    assert client.get("/records/contacts/new/").status_code == 403


def test_own_access_hides_teammates_records(client, owner, teammate):
    theirs = ContactFactory(first_name="Theirs", owner=teammate)
    client.force_login(owner)
    assert client.get(f"/records/contacts/{theirs.pk}/").status_code == 404
    assert b"Theirs" not in client.get("/records/contacts/?q=theirs").content


def test_lists_search_and_export_show_only_accessible_records(client, owner, outsider, contact):
    ContactFactory(first_name="Olivia", last_name="Foreign", owner=outsider)
    client.force_login(owner)
    listing = client.get("/records/contacts/?q=olivia").content.decode()
    assert "Olivia Owned" in listing and "Olivia Foreign" not in listing
    export = b"".join(client.get("/records/contacts/export.csv").streaming_content).decode()
    assert "Olivia Owned" in export and "Olivia Foreign" not in export
    # Asking for a foreign id explicitly does not leak it either.
    foreign = ContactFactory(first_name="Hidden", owner=outsider)
    export = b"".join(
        client.get(f"/records/contacts/export.csv?id={foreign.pk}").streaming_content
    ).decode()
    assert "Hidden" not in export


def test_association_panel_hides_records_outside_access(client, owner, outsider, contact):
    foreign = DealFactory(name="Foreign deal", owner=outsider)
    association_create(contact, foreign)
    client.force_login(owner)
    assert b"Foreign deal" not in client.get(f"/records/contacts/{contact.pk}/").content
    candidates = client.get(
        f"/records/contacts/{contact.pk}/associations/candidates/?target_type=deals&q=foreign"
    )
    assert b"Foreign deal" not in candidates.content
    assert (
        client.post(
            f"/records/contacts/{contact.pk}/associations/", {"record_id": foreign.pk}
        ).status_code
        == 404
    )


def test_task_of_another_record_cannot_be_toggled_through_mine(client, owner, contact):
    other = ContactFactory(owner=owner)
    foreign_task = task_create(owner, other, title="Elsewhere", task_type="todo")
    client.force_login(owner)
    url = f"/records/contacts/{contact.pk}/tasks/{foreign_task.pk}/toggle/"
    assert client.post(url).status_code == 404


def test_unknown_ids_and_types_are_404(client, owner, contact):
    client.force_login(owner)
    assert client.get("/records/contacts/999999/").status_code == 404
    assert client.get("/records/spaceships/").status_code == 404
    # A contact id asked for under another type is not found either.
    assert client.get(f"/records/deals/{contact.pk}/").status_code == 404


def test_anonymous_users_are_sent_to_login(client, contact):
    response = client.get(f"/records/contacts/{contact.pk}/")
    assert response.status_code == 302 and response.url.startswith("/login/")


def test_notes_by_others_stay_visible_to_those_with_access(client, owner, teammate, contact):
    note_create(owner, contact, "Shared insight")
    client.force_login(teammate)
    assert b"Shared insight" in client.get(f"/records/contacts/{contact.pk}/").content
