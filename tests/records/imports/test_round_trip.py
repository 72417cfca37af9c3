"""Every list page's CSV export imports again unchanged: each record found and updated as it
was, nothing created, nothing refused."""

from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse

from records.models import Company, Contact, CustomObjectType, Deal, Record, Ticket
from tests.factories import CompanyFactory, ContactFactory, DealFactory, TicketFactory

from .support import run_import

pytestmark = pytest.mark.django_db


def _snapshot(model):
    return sorted(
        (r.pk, r.name, r.owner_id, *[getattr(r, f, None) for f in SNAP])
        for r in model.objects.all()
    )


SNAP = (
    "email",
    "phone",
    "lifecycle_stage",
    "domain",
    "industry",
    "city",
    "stage",
    "amount",
    "close_date",
    "status",
    "priority",
    "properties",
)


def test_each_list_export_imports_again_unchanged(client, admin_user, owner):
    ContactFactory(
        owner=owner, first_name="Ann", last_name="Archer", emails=["ann@a.example"], phone="+1 555"
    )
    ContactFactory(
        owner=None,
        first_name="",
        last_name="",
        emails=["nameless@a.example"],
        lifecycle_stage="customer",
    )
    CompanyFactory(owner=owner, name="Acme", domain="acme.example", industry="Tools", city="Lyon")
    CompanyFactory(owner=None, name="No domain", domain="")
    DealFactory(
        owner=owner,
        name='Big, "quoted" deal',
        amount=Decimal("12500.50"),
        close_date=date(2027, 1, 31),
        stage="contractsent",
    )
    DealFactory(owner=None, name="Small")
    TicketFactory(owner=owner, name="Broken\nprinter", status="waiting_on_us", priority="high")
    projects = CustomObjectType.objects.create(name="Project", plural="Projects", slug="projects")
    projects.property_definitions.create(
        key="phase", label="Phase", type="choice", options=["Plan", "Build"]
    )
    projects.property_definitions.create(key="budget", label="Budget", type="number")
    Record.objects.create(
        kind="custom",
        custom_type=projects,
        name="Alpha",
        owner=owner,
        properties={"phase": "Build", "budget": "10.5"},
    )
    client.force_login(admin_user)
    for slug, model, count in (
        ("contacts", Contact, 2),
        ("companies", Company, 2),
        ("deals", Deal, 2),
        ("tickets", Ticket, 1),
        ("projects", Record, 1),
    ):
        before = _snapshot(model)
        response = client.get(reverse("records:export", args=[slug]))
        data = b"".join(response.streaming_content)
        upload = run_import(admin_user, slug, data, name=f"{slug}.csv", owner=None)
        assert (upload.created, upload.updated, upload.failed, upload.skipped) == (
            0,
            count,
            0,
            0,
        ), (
            slug,
            list(upload.rejections.values_list("reason", flat=True)),
        )
        assert _snapshot(model) == before, slug
