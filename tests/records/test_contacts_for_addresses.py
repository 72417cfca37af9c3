"""Contacts made in bulk for addresses (sync's unknown senders) keep one contact per address,
also when another writer gives one of the addresses a contact at the same moment."""

import threading

import pytest
from django.db import connection, transaction

from records.models import Contact, ContactEmail
from records.services import contacts_for_addresses
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_address_another_writer_takes_meanwhile_keeps_its_one_contact(postgresql, owner):
    """The other writer's row is in the index but not committed when the batch reads who has
    the addresses: the batch waits on the index, is refused once the other commits, reads
    again and creates only the rest."""
    inserted, release = threading.Event(), threading.Event()
    theirs = {}

    def other_writer():
        try:
            with transaction.atomic():
                theirs["contact"] = ContactFactory(owner=owner, emails=["both@client.example"])
                inserted.set()
                release.wait(10)
        finally:
            connection.close()

    writer = threading.Thread(target=other_writer)
    writer.start()
    assert inserted.wait(10)
    # Let the other writer commit while this batch waits on the unique index.
    threading.Timer(0.5, release.set).start()
    people = {"both@client.example": ("Bo", "Th"), "solo@client.example": ("So", "Lo")}

    created = contacts_for_addresses(people, owner.pk)
    writer.join(10)

    assert created["both@client.example"] == theirs["contact"].pk
    assert Contact.objects.count() == 2
    assert ContactEmail.objects.filter(address="both@client.example").count() == 1
    assert Contact.objects.get(pk=created["solo@client.example"]).name == "So Lo"
