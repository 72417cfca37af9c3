"""What files an import reads and how: separators, BOM, Excel's encoding, quoted newlines,
HubSpot's headers; and what it refuses, with words for the user."""

import pytest

from records.imports import services
from records.imports.fields import FIELDS, guess
from records.imports.parsing import FileRefused, parse
from records.models import Contact, ContactEmail
from records.types import get_record_type
from tests.factories import ContactFactory

from .support import run_import

pytestmark = pytest.mark.django_db


def test_comma_and_semicolon_are_detected_and_said():
    comma = parse(b"Email,First Name\nann@a.example,Ann\n")
    semi = parse(b"Email;First Name;Note\nann@a.example;Ann;a, b\n")
    assert (comma.delimiter, comma.delimiter_name) == (",", "comma")
    assert (semi.delimiter, semi.delimiter_name, semi.header) == (
        ";",
        "semicolon",
        ["Email", "First Name", "Note"],
    )


@pytest.mark.parametrize("sep", [",", ";"])
def test_each_separator_imports(owner, sep):
    data = f"Email{sep}First Name{sep}Last Name\nann@a.example{sep}Ann{sep}Archer\n".encode()
    upload = run_import(owner, "contacts", data)
    assert (upload.status, upload.created, upload.failed) == ("done", 1, 0)
    ann = Contact.objects.get(email="ann@a.example")
    assert (ann.first_name, ann.last_name, ann.owner) == ("Ann", "Archer", owner)


def test_bom_excel_encoding_and_quoted_newlines(owner):
    bom = '\ufeffEmail,Job Title\nzoë@a.example,"Head of\nSales"\n'.encode()
    upload = run_import(owner, "contacts", bom)
    assert (upload.encoding, upload.header, upload.created) == (
        "UTF-8 with BOM",
        ["Email", "Job Title"],
        1,
    )
    assert Contact.objects.get(email="zoë@a.example").job_title == "Head of\nSales"
    excel = "Email;Last Name\nrene@a.example;Müller\n".encode("cp1252")
    upload = run_import(owner, "contacts", excel)
    assert upload.encoding == "Windows-1252"
    assert Contact.objects.get(email="rene@a.example").last_name == "Müller"


def test_mixed_case_duplicates_make_one_contact(owner):
    ContactFactory(owner=owner, first_name="Old", emails=["ann@a.example"])
    data = b"Email,First Name\nANN@A.example,Ann\nbob@b.example,Bob\nBob@B.Example,Bobby\n"
    upload = run_import(owner, "contacts", data)
    assert (upload.created, upload.updated, upload.failed) == (1, 2, 0)
    assert ContactEmail.objects.filter(address__iexact="ann@a.example").count() == 1
    assert Contact.objects.get(email="ann@a.example").first_name == "Ann"
    assert Contact.objects.get(email="bob@b.example").first_name == "Bobby"
    skipping = run_import(owner, "contacts", data, on_existing="skip")
    assert (skipping.created, skipping.updated, skipping.skipped) == (0, 0, 3)


def test_hubspot_export_headers_are_guessed(owner):
    header = (
        "Record ID,First Name,Last Name,Email,Phone Number,Job Title,Lifecycle Stage,"
        "Contact owner,Create Date,Associated Company"
    )
    mapping = guess(header.split(","), FIELDS["contacts"])
    assert list(mapping.values()) == [
        "",
        "first_name",
        "last_name",
        "email",
        "phone",
        "job_title",
        "lifecycle_stage",
        "owner",
        "",
        "company",
    ]
    internal = "hs_object_id,email,firstname,lastname,jobtitle,lifecyclestage,hs_additional_emails"
    assert list(guess(internal.split(","), FIELDS["contacts"]).values()) == [
        "",
        "email",
        "first_name",
        "last_name",
        "job_title",
        "lifecycle_stage",
        "other_emails",
    ]
    companies = "Record ID,Company name,Company Domain Name,Industry,City,Company owner"
    assert list(guess(companies.split(","), FIELDS["companies"]).values()) == [
        "id",
        "name",
        "domain",
        "industry",
        "city",
        "owner",
    ]
    data = (
        b"Record ID,First Name,Last Name,Email,Lifecycle Stage,Contact owner\n"
        b"901,Ann,Archer,ann@a.example,Marketing Qualified Lead,owner\n"
    )
    upload = run_import(owner, "contacts", data, name="hubspot-contacts.csv")
    assert upload.created == 1
    assert Contact.objects.get(email="ann@a.example").lifecycle_stage == "marketingqualifiedlead"


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", "The file is empty."),
        (b"   \n\n", "The file is empty."),
        (b"PK\x03\x04rest-of-a-zip", "it looks like an Excel workbook"),
        (b"%PDF-1.7 ...", "a PDF document"),
        (b"Email,Name\n", "a header row but no records"),
    ],
)
def test_bad_files_are_refused_with_why(owner, data, words):
    with pytest.raises(FileRefused, match=words):
        services.import_create(owner, get_record_type("contacts"), "x.csv", data)


def test_a_file_over_the_limit_is_refused_naming_it(owner, settings):
    settings.CRM_IMPORT_MAX_MB = 1
    data = b"Email\n" + b"a@a.example\n" * 100_000
    with pytest.raises(FileRefused, match="larger than the limit of 1 MB"):
        services.import_create(owner, get_record_type("contacts"), "big.csv", data)
