"""Settings > General: each user edits their own profile; a refused field saves nothing."""

import pytest

pytestmark = pytest.mark.django_db


def test_a_user_sets_their_own_from_name_and_time_zone(client, teammate):
    client.force_login(teammate)
    page = client.get("/settings/general/")
    assert page.status_code == 200
    assert "Profile name" in page.content.decode()
    response = client.post(
        "/settings/general/",
        {
            "profile-first_name": "Sara",
            "profile-last_name": "Neri",
            "profile-profile_name": "Sara at Acme",
            "profile-time_zone": "Asia/Tokyo",
        },
    )
    assert response.status_code == 302 and response["Location"] == "/settings/general/"
    teammate.refresh_from_db()
    assert (teammate.profile_name, teammate.time_zone) == ("Sara at Acme", "Asia/Tokyo")


def test_an_unknown_time_zone_is_refused_beside_the_field_and_nothing_is_saved(client, teammate):
    client.force_login(teammate)
    before = teammate.profile_name
    response = client.post(
        "/settings/general/",
        {"profile-profile_name": "Changed", "profile-time_zone": "Mars/Olympus"},
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "Select a valid choice" in page and 'value="Changed"' in page
    teammate.refresh_from_db()
    assert teammate.profile_name == before
