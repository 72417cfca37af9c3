"""An address belongs to one contact at most, whoever writes it and however: a rep cannot take
over another team's customer by giving a contact of their own the customer's address, and the
refusal tells nothing about a contact the rep cannot see."""

import pytest
from django.db import IntegrityError, transaction

from records.models import Contact, ContactEmail
from records.services import AddressInUse, contact_save
from records.types import get_record_type
from records.views.forms_for import form_for, save_record_form
from tests.factories import ContactFactory

HIDDEN = "This address already belongs to another contact you don&#x27;t have access to."


def new_contact(**fields):
    return {"lifecycle_stage": "lead", "first_name": "Mallory", "last_name": "Mine", **fields}


def assert_nothing_about(body: str, contact) -> None:
    """The page names neither the other contact nor its id, nor its other address."""
    assert contact.name not in body and contact.first_name not in body
    assert f"/records/contacts/{contact.pk}/" not in body
    assert "o.owned@home.example" not in body


def test_outsider_cannot_create_a_contact_with_a_customers_address(client, outsider, contact):
    client.force_login(outsider)
    response = client.post(
        "/records/contacts/new/",
        new_contact(primary_email="OLIVIA@Acme.example", owner=outsider.pk),
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert HIDDEN in body
    assert_nothing_about(body, contact)
    assert list(Contact.objects.all()) == [contact]
    assert set(ContactEmail.objects.values_list("contact_id", flat=True)) == {contact.pk}


@pytest.mark.parametrize("htmx", [False, True], ids=["edit page", "inline edit"])
def test_outsider_cannot_add_a_customers_address_to_their_own_contact(
    client, outsider, contact, htmx
):
    mine = ContactFactory(first_name="Mallory", owner=outsider, emails=["mallory@red.example"])
    client.force_login(outsider)
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    response = client.post(
        f"/records/contacts/{mine.pk}/edit/",
        new_contact(
            primary_email="mallory@red.example",
            other_emails="m2@red.example\no.owned@home.example",
            owner=outsider.pk,
        ),
        **headers,
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert (
        "o.owned@home.example already belongs to another contact you don&#x27;t have access to."
        in body
    )
    # What the rep typed is kept (their own input), nothing else about the other contact.
    assert contact.name not in body and f"/records/contacts/{contact.pk}/" not in body
    assert list(mine.emails.values_list("address", flat=True)) == ["mallory@red.example"]
    assert set(contact.emails.values_list("address", flat=True)) == {
        "olivia@acme.example",
        "o.owned@home.example",
    }


def test_a_user_who_sees_the_other_contact_gets_a_link_to_it(client, teammate, contact):
    client.force_login(teammate)
    response = client.post(
        "/records/contacts/new/",
        new_contact(primary_email="new@blue.example", other_emails="Olivia@acme.example", owner=""),
    )
    body = response.content.decode()
    assert (
        f'olivia@acme.example is already used by <a href="/records/contacts/{contact.pk}/">'
        "Olivia Owned</a>." in body
    )
    assert HIDDEN not in body
    assert Contact.objects.count() == 1


def test_the_primary_address_refusal_links_for_an_admin(client, admin_user, contact):
    client.force_login(admin_user)
    response = client.post("/records/contacts/new/", new_contact(primary_email=contact.email))
    assert (
        f'This address is already used by <a href="/records/contacts/{contact.pk}/">'
        "Olivia Owned</a>." in response.content.decode()
    )


def test_a_contact_keeps_its_own_addresses_when_edited(client, owner, contact):
    client.force_login(owner)
    response = client.post(
        f"/records/contacts/{contact.pk}/edit/",
        new_contact(
            first_name="Olivia",
            last_name="Owned",
            primary_email="O.OWNED@home.example",
            other_emails="olivia@acme.example",
            owner=owner.pk,
        ),
    )
    assert response.status_code == 302
    contact.refresh_from_db()
    assert contact.email == "o.owned@home.example"


def test_the_service_refuses_an_address_of_another_contact_in_any_case(contact, outsider):
    with pytest.raises(AddressInUse) as refused:
        contact_save(
            Contact(first_name="Mallory", owner=outsider), ["x@red.example", "OLIVIA@acme.EXAMPLE"]
        )
    assert (refused.value.address, refused.value.contact_id) == ("olivia@acme.example", contact.pk)
    assert list(Contact.objects.all()) == [contact]
    assert not ContactEmail.objects.filter(address="x@red.example").exists()


def test_the_database_refuses_a_duplicate_written_around_the_service(contact, outsider):
    other = ContactFactory(owner=outsider, emails=["mallory@red.example"])
    for address in ("olivia@acme.example", "Olivia@ACME.example"):
        with pytest.raises(IntegrityError), transaction.atomic():
            ContactEmail.objects.create(contact=other, address=address)
    # Nor twice on one contact in another case.
    with pytest.raises(IntegrityError), transaction.atomic():
        ContactEmail.objects.create(contact=contact, address="O.Owned@home.example")


def test_an_address_taken_after_the_form_was_checked_is_refused_by_the_form(outsider, owner):
    """Two reps save the same new address at once: the form checked before the other save
    committed, the service (and the unique index under it) refuses it after."""
    contacts = get_record_type("contacts")
    form = form_for(contacts, new_contact(primary_email="late@client.example"), user=outsider)
    assert form.is_valid()
    first = ContactFactory(first_name="Lena", owner=owner, emails=["late@client.example"])
    assert save_record_form(contacts, form) is None
    assert form.errors["primary_email"] == [HIDDEN.replace("&#x27;", "'")]
    assert list(Contact.objects.all()) == [first]
