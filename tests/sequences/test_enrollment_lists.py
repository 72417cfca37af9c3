"""Enrolling a saved list: "From a saved list" on the sequence's contact picker makes the
list's members the user may see the bulk page's selection (more than 50 refused, nothing
enrolled), and the list page's "Enroll in sequence" bulk action leads to the same page."""

import pytest
from django.urls import reverse

from records.lists import services as lists
from sequences.models import Enrollment
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def fair(owner):
    return lists.list_create(owner, "Trade fair 2026")


def from_list(sequence, contact_list):
    return reverse("sequences:enroll-bulk", args=[sequence.pk]) + f"?list={contact_list.pk}"


def shared(inbox):
    return {
        "start": "0",
        "time_zone": "Europe/Rome",
        "send": "now",
        "sender": f"{inbox.pk}:{inbox.email}",
        "delay_1": "2",
        "delay_2": "3",
    }


def test_the_picker_offers_the_lists_with_contacts_one_may_see(
    rep, sequence, owner, outsider, fair
):
    lists.members_add(owner, fair, [ContactFactory(owner=owner).pk])
    theirs = lists.list_create(outsider, "Red team's list")
    lists.members_add(outsider, theirs, [ContactFactory(owner=outsider).pk])
    page = rep.get(reverse("sequences:enroll", args=[sequence.pk])).content.decode()
    assert "From a saved list" in page
    assert "Trade fair 2026 (1 contact)" in page
    assert "Red team" not in page  # nothing in it the owner may see


def test_a_lists_visible_members_are_enrolled_together(
    rep, sequence, owner, outsider, admin_user, inbox, fair
):
    ann = ContactFactory(owner=owner, first_name="Ann")
    bob = ContactFactory(owner=owner, first_name="Bob")
    rita = ContactFactory(owner=outsider, first_name="Rita")
    lists.members_add(admin_user, fair, [ann.pk, rita.pk, bob.pk])
    url = from_list(sequence, fair)
    page = rep.get(url).content.decode()
    assert "Enroll all 2 contacts" in page
    assert f'name="contact" value="{ann.pk}"' in page and "Rita" not in page
    response = rep.post(url, {**shared(inbox), "contact": [ann.pk, bob.pk], "action": "enroll"})
    assert response.status_code == 302
    assert set(Enrollment.objects.values_list("contact_id", flat=True)) == {ann.pk, bob.pk}


def test_a_list_of_more_than_fifty_is_refused_and_nothing_is_enrolled(rep, sequence, owner, fair):
    lists.members_add(owner, fair, [ContactFactory(owner=owner).pk for _ in range(51)])
    answer = rep.get(from_list(sequence, fair))
    assert answer.status_code == 400
    assert (
        "At most 50 contacts can be enrolled at once; 51 were chosen. Choose 50 or fewer."
        in answer.content.decode()
    )
    assert not Enrollment.objects.exists()


def test_an_empty_or_unknown_list_is_said_so(rep, sequence, fair):
    answer = rep.get(from_list(sequence, fair))
    assert answer.status_code == 400
    assert "This list has no contacts you can access." in answer.content.decode()
    unknown = reverse("sequences:enroll-bulk", args=[sequence.pk]) + "?list=999"
    assert rep.get(unknown).status_code == 404


def test_the_list_pages_enroll_in_sequence_leads_to_bulk_enrollment(
    rep, sequence, owner, inbox, fair
):
    ann, bob = ContactFactory(owner=owner), ContactFactory(owner=owner)
    lists.members_add(owner, fair, [ann.pk, bob.pk])
    html = rep.get(reverse("records:contact-list", args=[fair.pk])).content.decode()
    pick = reverse("sequences:pick-sequence")
    assert f'formaction="{pick}"' in html
    picked = rep.get(pick, {"id": [ann.pk, bob.pk]}).content.decode()
    assert "2 contacts selected" in picked
    bulk = reverse("sequences:enroll-bulk", args=[sequence.pk])
    assert f"{bulk}?contact={ann.pk}&contact={bob.pk}" in picked.replace("&amp;", "&")
