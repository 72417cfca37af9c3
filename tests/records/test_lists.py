"""Saved contact lists: names unique whatever their case, members added once and only those
the user may see, `list_members_added` sent on commit with the new ones only, and the pages
(index, a list's page, Add to list, Remove from list, rename, delete) with who may do what."""

import pytest
from django.db import transaction
from django.urls import reverse

from records.lists import services
from records.lists.models import ContactList, ListMember
from records.signals import list_members_added
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def events():
    """The list_members_added events sent, in order."""
    sent = []

    def receive(sender, event, **kwargs):
        sent.append(event)

    list_members_added.connect(receive, dispatch_uid="test_lists")
    yield sent
    list_members_added.disconnect(dispatch_uid="test_lists")


@pytest.fixture
def fair(owner):
    return services.list_create(owner, "Trade fair 2026")


@pytest.fixture
def people(owner, outsider):
    """Two of the owner's contacts and one of another team's."""
    return (
        ContactFactory(owner=owner, first_name="Ann", last_name="Alpha"),
        ContactFactory(owner=owner, first_name="Bob", last_name="Beta"),
        ContactFactory(owner=outsider, first_name="Rita", last_name="Red"),
    )


def test_a_name_is_unique_whatever_its_case(owner, fair):
    with pytest.raises(services.ListNameTaken) as taken:
        services.list_create(owner, "  TRADE fair 2026 ")
    assert "already exists" in taken.value.message
    assert ContactList.objects.count() == 1


def test_adding_twice_adds_once_and_tells_only_the_new_ones(
    owner, fair, people, events, django_capture_on_commit_callbacks
):
    ann, bob, _rita = people
    with django_capture_on_commit_callbacks(execute=True):
        assert services.members_add(owner, fair, [ann.pk, ann.pk]) == [ann.pk]
    with django_capture_on_commit_callbacks(execute=True):
        assert services.members_add(owner, fair, [bob.pk, ann.pk]) == [bob.pk]
    with django_capture_on_commit_callbacks(execute=True):
        assert services.members_add(owner, fair, [ann.pk, bob.pk]) == []
    assert ListMember.objects.filter(contact_list=fair).count() == 2
    member = ListMember.objects.get(contact=bob)
    assert member.added_by == owner and member.added_at is not None
    assert [(e.list_id, e.contact_ids, e.added_by_id) for e in events] == [
        (fair.pk, (ann.pk,), owner.pk),
        (fair.pk, (bob.pk,), owner.pk),
    ]


def test_a_contact_the_user_cannot_see_is_not_added(owner, fair, people):
    _ann, _bob, rita = people
    assert services.members_add(owner, fair, [rita.pk]) == []
    assert not ListMember.objects.exists()


def test_the_signal_waits_for_the_commit_and_a_rollback_sends_nothing(
    owner, fair, people, events, django_capture_on_commit_callbacks
):
    ann, bob, _rita = people
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with transaction.atomic():
            services.members_add(owner, fair, [ann.pk])
            assert events == []  # not before the commit
    assert len(callbacks) == 1 and len(events) == 1
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError), transaction.atomic():
            services.members_add(owner, fair, [bob.pk])
            raise RuntimeError("the rep's request failed")
    assert len(events) == 1
    assert not ListMember.objects.filter(contact=bob).exists()


def test_removing_takes_out_only_what_the_user_may_see(owner, admin_user, fair, people):
    ann, bob, rita = people
    services.members_add(admin_user, fair, [ann.pk, bob.pk, rita.pk])
    assert services.members_remove(owner, fair, [ann.pk, rita.pk]) == 1
    assert set(fair.members.values_list("contact_id", flat=True)) == {bob.pk, rita.pk}


# The pages.


def test_the_index_creates_a_list_and_counts_members(client, owner, admin_user, fair, people):
    services.members_add(admin_user, fair, [c.pk for c in people])
    client.force_login(owner)
    index = reverse("records:contact-lists")
    html = client.get(index).content.decode()
    assert "Trade fair 2026" in html
    assert "of 3: the rest you cannot access" in html
    response = client.post(index, {"name": "Webinar leads"})
    created = ContactList.objects.get(name="Webinar leads")
    assert response.url == reverse("records:contact-list", args=[created.pk])
    assert created.created_by == owner


def test_a_taken_name_is_refused_on_the_page_and_kept(client, owner, fair):
    client.force_login(owner)
    response = client.post(reverse("records:contact-lists"), {"name": "trade FAIR 2026"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "A list named “trade FAIR 2026” already exists" in html
    assert 'value="trade FAIR 2026"' in html
    assert ContactList.objects.count() == 1


def test_the_list_page_shows_the_members_one_may_see_and_hides_the_rest(
    client, owner, admin_user, fair, people
):
    ann, bob, rita = people
    services.members_add(admin_user, fair, [ann.pk, rita.pk])
    client.force_login(owner)
    html = client.get(reverse("records:contact-list", args=[fair.pk])).content.decode()
    assert "Ann Alpha" in html and "Rita Red" not in html and "Bob Beta" not in html
    assert "1 member you cannot access is hidden." in html
    # The contacts index's bulk bar, with the list actions of the apps and the list's own.
    assert f'formaction="{reverse("sequences:pick-sequence")}"' in html
    assert f'formaction="{reverse("records:contact-list-remove", args=[fair.pk])}"' in html
    # Export all: the list's members only.
    csv = client.get(reverse("records:export", args=["contacts"]) + f"?list={fair.pk}")
    body = b"".join(csv.streaming_content).decode()
    assert "Ann" in body and "Bob" not in body and "Rita" not in body


def test_add_to_list_from_the_index_into_a_new_or_an_existing_list(client, owner, fair, people):
    ann, bob, rita = people
    client.force_login(owner)
    contacts = client.get(reverse("records:list", args=["contacts"])).content.decode()
    add = reverse("records:contact-list-add")
    assert f'formaction="{add}"' in contacts
    page = client.get(add, {"id": [ann.pk, rita.pk]}).content.decode()
    assert "1 contact selected" in page and "1 contact you cannot access was left out." in page
    response = client.post(add, {"id": [ann.pk, rita.pk], "new_name": "Hot leads"})
    hot = ContactList.objects.get(name="Hot leads")
    assert response.url == reverse("records:contact-list", args=[hot.pk])
    assert list(hot.members.values_list("contact_id", flat=True)) == [ann.pk]
    response = client.post(add, {"id": [ann.pk, bob.pk], "contact_list": hot.pk}, follow=True)
    assert "1 contact added to “Hot leads”. 1 was in it already." in response.content.decode()
    assert hot.members.count() == 2


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "Choose a list, or name a new one."),
        ({"new_name": "trade fair 2026"}, "already exists"),
        ({"new_name": "X", "contact_list": "FAIR"}, "not both"),
        ({"contact_list": "999"}, "That list no longer exists"),
    ],
)
def test_add_to_list_refuses_bad_input_beside_its_field(client, owner, fair, people, data, message):
    data = {k: (fair.pk if v == "FAIR" else v) for k, v in data.items()}
    client.force_login(owner)
    response = client.post(reverse("records:contact-list-add"), {"id": [people[0].pk], **data})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not ListMember.objects.exists()


def test_remove_from_list_asks_first(client, owner, fair, people):
    ann, bob, _rita = people
    services.members_add(owner, fair, [ann.pk, bob.pk])
    client.force_login(owner)
    remove = reverse("records:contact-list-remove", args=[fair.pk])
    page = client.get(remove, {"id": [ann.pk]}).content.decode()
    assert "Remove 1 contact from “Trade fair 2026”?" in page
    assert fair.members.count() == 2
    response = client.post(remove, {"id": [ann.pk]}, follow=True)
    assert "1 contact removed from “Trade fair 2026”." in response.content.decode()
    assert list(fair.members.values_list("contact_id", flat=True)) == [bob.pk]


def test_the_creator_renames_and_deletes(client, owner, fair, people):
    services.members_add(owner, fair, [people[0].pk])
    client.force_login(owner)
    rename = reverse("records:contact-list-rename", args=[fair.pk])
    assert client.post(rename, {"name": ""}).status_code == 400
    client.post(rename, {"name": "Fair 2026 (met)"})
    fair.refresh_from_db()
    assert fair.name == "Fair 2026 (met)"
    response = client.post(reverse("records:contact-list-delete", args=[fair.pk]), follow=True)
    assert "its contacts are still in the CRM" in response.content.decode()
    assert not ContactList.objects.exists() and people[0].__class__.objects.exists()


def test_a_teammate_adds_members_but_only_the_creator_or_an_admin_renames(
    client, owner, teammate, admin_user, fair, people
):
    client.force_login(teammate)
    add = reverse("records:contact-list-add")
    client.post(add, {"id": [people[0].pk], "contact_list": fair.pk})
    assert fair.members.get().added_by == teammate
    html = client.get(reverse("records:contact-list", args=[fair.pk])).content.decode()
    assert "Rename" not in html and "Delete list" not in html
    rename = reverse("records:contact-list-rename", args=[fair.pk])
    assert client.post(rename, {"name": "Mine now"}).status_code == 403
    assert client.post(reverse("records:contact-list-delete", args=[fair.pk])).status_code == 403
    client.force_login(admin_user)
    client.post(rename, {"name": "Renamed by the admin"})
    fair.refresh_from_db()
    assert fair.name == "Renamed by the admin"


def test_a_view_only_seat_looks_but_changes_nothing(client, viewer, fair, people):
    client.force_login(viewer)
    html = client.get(reverse("records:contact-lists")).content.decode()
    assert "Trade fair 2026" in html and "Create list" not in html
    assert client.post(reverse("records:contact-lists"), {"name": "No"}).status_code == 403
    add = reverse("records:contact-list-add")
    assert client.post(add, {"id": [people[0].pk], "contact_list": fair.pk}).status_code == 403
    contacts = client.get(reverse("records:list", args=["contacts"])).content.decode()
    assert f'formaction="{add}"' not in contacts
    assert not ListMember.objects.exists()
