"""403, 404 and 500 are pages of the app (its layout, a way back), as production shows them:
DEBUG is off in tests, so Django's handlers render templates/403.html, 404.html and 500.html."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tests.factories import ContactFactory


def test_a_missing_page_is_the_apps_404_with_its_navigation_and_a_way_back(client, owner):
    client.force_login(owner)

    response = client.get("/no/such/page/")

    assert response.status_code == 404
    body = response.content.decode()
    assert "Page not found" in body
    assert '<a class="button primary" href="/">Back to the start page</a>' in body
    assert 'href="/static/css/app.css"' in body
    assert '<nav class="mainnav" aria-label="Main">' in body


def test_a_record_outside_your_access_is_the_same_404(client, owner, teammate):
    hidden = ContactFactory(owner=teammate)
    client.force_login(owner)

    response = client.get(f"/records/contacts/{hidden.pk}/")

    assert response.status_code == 404
    assert "Page not found" in response.content.decode()


def test_a_refusal_is_the_apps_403_with_the_reason_and_a_way_back(client, teammate):
    client.force_login(teammate)

    response = client.get("/settings/users/")

    assert response.status_code == 403
    body = response.content.decode()
    assert "You don't have access to this" in body
    assert "Only account admins can open the admin area." in body
    assert '<a class="button primary" href="/">Back to the start page</a>' in body


@pytest.mark.urls("tests.crm_mail.failing_urls")
def test_a_failing_view_is_the_apps_500_rendered_without_touching_the_database(owner):
    client = Client(raise_request_exception=False)
    client.force_login(owner)

    with CaptureQueriesContext(connection) as queries:
        response = client.get("/fail/")

    assert response.status_code == 500
    body = response.content.decode()
    assert "Something went wrong on our side" in body
    assert '<a class="button primary" href="/">Back to the start page</a>' in body
    assert 'href="/static/css/app.css"' in body
    assert "<title>Server error · CRM Mail</title>" in body
    # The request's own session and user lookups, and nothing for the page.
    tables = {
        table for q in queries for table in ("django_session", "records_user") if table in q["sql"]
    }
    assert len(queries) == len(tables) == 2
