"""Who may open Settings > Import and an import's page, and a file over the limit refused on
the page with the limit named."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from records.imports import services
from records.imports.models import Import
from records.types import get_record_type

pytestmark = pytest.mark.django_db


def test_view_only_seats_cannot_import_and_reps_see_only_their_imports(
    client, viewer, owner, teammate, admin_user
):
    client.force_login(viewer)
    assert client.get(reverse("records:imports")).status_code == 403
    general = client.get(reverse("records:settings-general")).content.decode()
    assert reverse("records:imports") not in general  # no link to a page refused
    upload = services.import_create(
        owner, get_record_type("contacts"), "x.csv", b"Email\na@a.example\n"
    )
    client.force_login(teammate)
    assert client.get(reverse("records:import", args=[upload.pk])).status_code == 404
    assert client.get(reverse("records:import-errors", args=[upload.pk])).status_code == 404
    client.force_login(admin_user)
    assert client.get(reverse("records:import", args=[upload.pk])).status_code == 200
    client.force_login(owner)
    page = client.get(reverse("records:imports"))
    assert page.status_code == 200 and b"x.csv" in page.content


def test_a_rep_starts_an_import_owning_its_records(
    client, owner, admin_user, django_capture_on_commit_callbacks, queued_jobs
):
    upload = services.import_create(
        owner, get_record_type("contacts"), "x.csv", b"Email\na@a.example\n"
    )
    client.force_login(owner)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("records:import", args=[upload.pk]),
            {"col_0": "email", "on_existing": "skip", "owner": admin_user.pk, "action": "start"},
        )
    assert response.status_code == 302
    upload.refresh_from_db()
    assert (upload.status, upload.owner, upload.on_existing) == ("queued", owner, "skip")
    assert queued_jobs.args_of("records.import_run") == [(upload.pk,)]


def test_a_file_over_the_limit_is_refused_on_the_page(client, owner, settings):
    settings.CRM_IMPORT_MAX_MB = 1
    client.force_login(owner)
    big = SimpleUploadedFile("big.csv", b"Email\n" + b"a@a.example\n" * 100_000, "text/csv")
    response = client.post(reverse("records:imports"), {"type_slug": "contacts", "file": big})
    assert response.status_code == 200
    assert "The file is larger than the limit of 1 MB." in response.content.decode()
    assert not Import.objects.exists()


def test_with_privacy_rules_on_the_mapping_page_asks_the_legal_basis(
    client, owner, django_capture_on_commit_callbacks
):
    from privacy.models import PrivacySettings

    upload = services.import_create(
        owner, get_record_type("contacts"), "x.csv", b"Email\na@a.example\n"
    )
    client.force_login(owner)
    url = reverse("records:import", args=[upload.pk])
    assert "Legal basis for the imported contacts" not in client.get(url).content.decode()
    PrivacySettings.objects.create(pk=1, gdpr_enabled=True)
    assert "Legal basis for the imported contacts" in client.get(url).content.decode()
    form = {"col_0": "email", "on_existing": "update", "action": "start"}
    refused = client.post(url, {**form, "privacy-basis": "consent"})
    assert "Explain why you may contact them" in refused.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url, {**form, "privacy-basis": "consent", "privacy-explanation": "Signed up"})
    upload.refresh_from_db()
    assert upload.options == {
        "privacy-legal-basis": {"basis": "consent", "explanation": "Signed up"}
    }
