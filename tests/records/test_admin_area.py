"""The admin area: users, seats, teams, record access and custom object types."""

import pytest

from records.constants import RecordAccess, Seat
from records.models import CustomObjectType, PropertyDefinition, Record, User

ADMIN_PAGES = [
    "/settings/users/",
    "/settings/users/new/",
    "/settings/teams/",
    "/settings/objects/",
]


@pytest.mark.parametrize("url", ADMIN_PAGES)
def test_admin_area_is_closed_to_non_admins(client, teammate, url):
    client.force_login(teammate)
    assert client.get(url).status_code == 403


def test_settings_open_on_the_users_own_general_page_and_name_only_theirs(client, teammate):
    client.force_login(teammate)
    response = client.get("/settings/")
    assert response.status_code == 302
    assert response["Location"] == "/settings/general/"
    page = client.get(response["Location"]).content.decode()
    assert "Connected inboxes" in page and "Signatures" in page
    assert "/settings/users/" not in page and "Privacy audit" not in page


def test_admin_creates_a_user_with_seat_team_and_access(client, admin_user, blue):
    client.force_login(admin_user)
    response = client.post(
        "/settings/users/new/",
        {
            "username": "newrep",
            "first_name": "New",
            "last_name": "Rep",
            "email": "n@x.example",
            "profile_name": "New Rep (Sales)",
            "team": blue.pk,
            "seat": Seat.VIEW_ONLY,
            "record_access": RecordAccess.TEAM,
            "time_zone": "Europe/Rome",
            "is_active": "on",
            "password": "a-long-enough-passphrase",
        },
    )
    assert response.status_code == 302
    user = User.objects.get(username="newrep")
    assert (user.seat, user.team, user.record_access) == (Seat.VIEW_ONLY, blue, RecordAccess.TEAM)
    assert user.display_name == "New Rep (Sales)" and user.check_password(
        "a-long-enough-passphrase"
    )


def test_new_user_needs_a_password_and_a_real_time_zone(client, admin_user):
    client.force_login(admin_user)
    response = client.post(
        "/settings/users/new/",
        {
            "username": "nopass",
            "seat": Seat.CORE,
            "record_access": RecordAccess.OWN,
            "time_zone": "Mars/Olympus",
        },
    )
    body = response.content.decode()
    assert "Set a password for the new user." in body
    assert "is not a known time zone" in body
    assert 'value="nopass"' in body
    assert not User.objects.filter(username="nopass").exists()


def test_admin_cannot_remove_their_own_admin_rights(client, admin_user):
    client.force_login(admin_user)
    client.post(
        f"/settings/users/{admin_user.pk}/",
        {
            "username": "admin",
            "seat": Seat.SALES,
            "record_access": RecordAccess.ALL,
            "time_zone": "UTC",
            "is_active": "on",
        },
    )
    admin_user.refresh_from_db()
    assert admin_user.is_staff


def test_custom_object_type_with_properties_and_records(client, admin_user):
    client.force_login(admin_user)
    response = client.post("/settings/objects/", {"name": "Vehicle", "plural": "Vehicles"})
    assert response.status_code == 302 and response.url == "/settings/objects/vehicles/"
    client.post(
        "/settings/objects/vehicles/",
        {"label": "Fuel", "type": "choice", "options_text": "Petrol, Electric"},
    )
    client.post(
        "/settings/objects/vehicles/", {"label": "Seats", "type": "number", "required": "on"}
    )
    assert list(PropertyDefinition.objects.values_list("key", "type")) == [
        ("fuel", "choice"),
        ("seats", "number"),
    ]

    bad = client.post(
        "/records/vehicles/new/", {"name": "Van", "prop_fuel": "Diesel", "prop_seats": "many"}
    )
    assert "Select a valid choice" in bad.content.decode()
    assert "Enter a number." in bad.content.decode()
    assert not Record.objects.filter(kind="custom").exists()

    good = client.post(
        "/records/vehicles/new/",
        {"name": "Van", "prop_fuel": "Electric", "prop_seats": "3", "owner": admin_user.pk},
    )
    van = Record.objects.get(kind="custom")
    assert good.url == f"/records/vehicles/{van.pk}/"
    assert van.properties == {"fuel": "Electric", "seats": "3"}
    page = client.get(good.url).content.decode()
    assert "Electric" in page and "Fuel" in page
    assert "Van" in client.get("/records/vehicles/?q=van").content.decode()


def test_custom_object_names_cannot_take_builtin_slugs_or_repeat(client, admin_user):
    client.force_login(admin_user)
    response = client.post("/settings/objects/", {"name": "Deal2", "plural": "Deals"})
    assert "taken by a built-in type" in response.content.decode()
    CustomObjectType.objects.create(name="Boat", plural="Boats", slug="boats")
    response = client.post("/settings/objects/boats/", {"label": "Name", "type": "text"})
    assert "already has a property with this name" in response.content.decode()
    response = client.post("/settings/objects/boats/", {"label": "Hull", "type": "choice"})
    assert "A dropdown needs at least one option." in response.content.decode()
