"""Exactly what a contact import writes, row by row: the same file must leave the same
records, contacts and addresses on PostgreSQL (binary COPY) and on SQLite (bulk_create), and
be searchable once the import is done."""

import pytest

from records.models import Contact, ContactEmail, Record
from records.selectors import records_search
from tests.factories import ContactFactory

from .support import run_import

pytestmark = pytest.mark.django_db

FILE = (
    "Email,Other Emails,Name,First Name,Last Name,Phone,Job Title,Lifecycle Stage,Owner\n"
    "Zoë@A.example,zoe.alt@a.example; ZOE@b.example,,Zoë,Durand,+33 1,CEO,Customer,\n"
    "bob@b.example,,Bob Brown,,,,,,owner\n"
    ",,No Address,,,,,,\n"
    "nobody@c.example,,,,,,,,\n"
    "\n"
    "ZOE.ALT@a.example,,,,Durand-Smith,,,,\n"
    "bad-address,,,,,,,,\n"
    "İpek@d.example,,,İpek,Yılmaz,,,,\n"
    "ANN@a.example,ann2@a.example,,Ann,,,,,\n"
).encode()


def _written(contact: Contact) -> tuple:
    record = Record.objects.get(pk=contact.pk)
    addresses = list(
        ContactEmail.objects.filter(contact=contact)
        .order_by("pk")
        .values_list("address", "is_primary")
    )
    return (
        record.kind,
        record.name,
        record.search_text,
        record.properties,
        record.custom_type_id,
        contact.first_name,
        contact.last_name,
        contact.phone,
        contact.job_title,
        contact.lifecycle_stage,
        addresses,
    )


def test_a_contact_file_writes_the_same_rows_on_every_database(owner):
    ann = ContactFactory(owner=owner, first_name="Old", last_name="Timer", emails=["ann@a.example"])
    upload = run_import(owner, "contacts", FILE)
    counts = ("status", "rows_done", "created", "updated", "skipped", "failed")
    assert tuple(getattr(upload, name) for name in counts) == ("done", 8, 4, 2, 0, 2)
    assert list(upload.rejections.values_list("line", "reason")) == [
        (3, "No email address."),
        (6, "“bad-address” is not a valid email address."),
    ]
    contacts = {c.email: c for c in Contact.objects.filter(owner=owner)}
    assert set(contacts) == {
        "zoë@a.example",
        "bob@b.example",
        "nobody@c.example",
        "i̇pek@d.example",
        "ann@a.example",
    }
    assert {c.email: _written(c) for c in contacts.values()} == {
        "zoë@a.example": (
            "contact",
            "Zoë Durand-Smith",
            "zoë durand-smith zoë@a.example zoe.alt@a.example zoe@b.example +33 1 ceo",
            {},
            None,
            "Zoë",
            "Durand-Smith",
            "+33 1",
            "CEO",
            "customer",
            [("zoë@a.example", True), ("zoe.alt@a.example", False), ("zoe@b.example", False)],
        ),
        "bob@b.example": (
            "contact",
            "Bob Brown",
            "bob brown bob@b.example",
            {},
            None,
            "Bob",
            "Brown",
            "",
            "",
            "lead",
            [("bob@b.example", True)],
        ),
        "nobody@c.example": (
            "contact",
            "nobody@c.example",
            "nobody@c.example nobody@c.example",
            {},
            None,
            "",
            "",
            "",
            "",
            "lead",
            [("nobody@c.example", True)],
        ),
        "i̇pek@d.example": (
            "contact",
            "İpek Yılmaz",
            "i̇pek yılmaz i̇pek@d.example",
            {},
            None,
            "İpek",
            "Yılmaz",
            "",
            "",
            "lead",
            [("i̇pek@d.example", True)],
        ),
        "ann@a.example": (
            "contact",
            "Ann Timer",
            "ann timer ann@a.example ann2@a.example",
            {},
            None,
            "Ann",
            "Timer",
            "",
            "",
            "lead",
            [("ann@a.example", True), ("ann2@a.example", False)],
        ),
    }
    assert contacts["ann@a.example"].pk == ann.pk
    found = records_search(Record.objects.all(), "Yılmaz").values_list("pk", flat=True)
    assert list(found) == [contacts["i̇pek@d.example"].pk]
