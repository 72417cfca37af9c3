"""Signed preferences links, the footer and headers, and the public preferences page."""

import pytest
from django.core import signing
from django.test import Client

from privacy.constants import EventKind
from privacy.links import (
    SALT,
    list_unsubscribe_headers,
    preferences_token,
    preferences_url,
    unsubscribe_footer,
)
from privacy.models import ContactOptOut, PrivacyEvent, SubscriptionStatus
from privacy.services import opt_out_of_all
from tests.factories import ContactFactory

ONE_CLICK_BODY = {"List-Unsubscribe": "One-Click"}


def path_of(contact):
    return f"/preferences/{preferences_token(contact)}/"


def nothing_changed(contact):
    return (
        not ContactOptOut.objects.filter(contact=contact).exists()
        and not SubscriptionStatus.objects.filter(contact=contact).exists()
        and not PrivacyEvent.objects.exists()
    )


@pytest.mark.parametrize("context", ["one_to_one", "sequence"])
def test_sales_email_carries_a_signed_preferences_link(contact, settings, context):
    settings.CRM_BASE_URL = "https://crm.example.com/"
    html, text = unsubscribe_footer(contact, context)
    url = preferences_url(contact)
    assert url.startswith("https://crm.example.com/preferences/")
    assert f'href="{url}"' in html and url in text and "Unsubscribe" in html
    headers = list_unsubscribe_headers(contact, context)
    assert headers["List-Unsubscribe"] == f"<{url}one-click/>"
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


@pytest.mark.parametrize("context", ["transactional", "ticket_reply"])
def test_transactional_email_has_no_unsubscribe_link(contact, context):
    assert unsubscribe_footer(contact, context) is None
    assert list_unsubscribe_headers(contact, context) == {}


def test_opening_the_page_changes_nothing(client, contact, one_to_one, transactional):
    response = client.get(path_of(contact))
    body = response.content.decode()
    assert response.status_code == 200
    assert "One to one" in body and "Transactional" not in body
    assert "Unsubscribe from all email" in body and "olivia@acme.example" in body
    assert response["X-Robots-Tag"] == "noindex, nofollow"
    assert nothing_changed(contact)


def test_unsubscribe_from_all_is_a_post(client, contact):
    response = client.post(path_of(contact), {"action": "unsubscribe_all"})
    assert response.status_code == 200
    assert "unsubscribed from all email" in response.content.decode()
    assert ContactOptOut.objects.get(contact=contact).source == "preferences_page"
    assert PrivacyEvent.objects.get().kind == EventKind.OPTED_OUT_ALL


def test_contact_subscribes_and_unsubscribes_by_type(client, contact, one_to_one, newsletter):
    opt_out_of_all(contact, source="one_click")
    client.post(path_of(contact), {"action": "save", "subscribed": [str(newsletter.pk), "x"]})
    assert not ContactOptOut.objects.filter(contact=contact).exists()
    assert SubscriptionStatus.objects.get(subscription_type=newsletter).status == "subscribed"
    assert not SubscriptionStatus.objects.filter(subscription_type=one_to_one).exists()
    client.post(path_of(contact), {"action": "save"})
    assert SubscriptionStatus.objects.get(subscription_type=newsletter).status == "opted_out"


def test_page_needs_csrf_like_any_form(contact):
    response = Client(enforce_csrf_checks=True).post(
        path_of(contact), {"action": "unsubscribe_all"}
    )
    assert response.status_code == 403
    assert nothing_changed(contact)


def forged_tokens(contact, other):
    token = preferences_token(contact)
    value, stamp, signature = token.split(":")
    return {
        "garbage": "not-a-token",
        "bad signature": f"{value}:{stamp}:{'A' * len(signature)}",
        "other contact's id": f"{other.pk}:{stamp}:{signature}",
        "other salt": signing.TimestampSigner(salt="something-else").sign(str(contact.pk)),
        "plain signer": signing.Signer(salt=SALT).sign(str(contact.pk)),
    }


@pytest.mark.parametrize("method", ["get", "post"])
def test_forged_or_tampered_link_shows_a_clear_page_and_changes_nothing(
    client, owner, contact, method
):
    other = ContactFactory(owner=owner)
    for label, token in forged_tokens(contact, other).items():
        response = getattr(client, method)(f"/preferences/{token}/", {"action": "unsubscribe_all"})
        assert response.status_code == 400, label
        assert "This link is not valid" in response.content.decode()
        assert "Nothing was changed" in response.content.decode()
    assert nothing_changed(contact) and nothing_changed(other)


@pytest.mark.parametrize("method", ["get", "post"])
def test_expired_link_shows_a_clear_page_and_changes_nothing(client, contact, settings, method):
    path = path_of(contact)
    settings.PRIVACY_LINK_MAX_AGE_DAYS = -1
    response = getattr(client, method)(path, {"action": "unsubscribe_all"})
    assert response.status_code == 400
    assert "This link has expired" in response.content.decode()
    assert client.post(path + "one-click/", ONE_CLICK_BODY).status_code == 400
    assert nothing_changed(contact)


def test_link_to_a_deleted_contact_is_404(client, owner):
    gone = ContactFactory(owner=owner)
    path = path_of(gone)
    gone.delete()
    response = client.get(path)
    assert response.status_code == 404 and "Nothing was changed" in response.content.decode()


def test_one_click_unsubscribe(client, contact):
    response = client.post(path_of(contact) + "one-click/", ONE_CLICK_BODY)
    assert response.status_code == 200
    assert ContactOptOut.objects.get(contact=contact).source == "one_click"


def test_one_click_needs_the_rfc_8058_body(client, contact):
    assert client.post(path_of(contact) + "one-click/", {}).status_code == 400
    assert nothing_changed(contact)


def test_one_click_url_opened_in_a_browser_leads_to_the_page(client, contact):
    response = client.get(path_of(contact) + "one-click/")
    assert response.status_code == 302 and response["Location"] == path_of(contact)
    assert nothing_changed(contact)


def test_one_click_needs_no_csrf_token_but_a_valid_link(contact):
    browserless = Client(enforce_csrf_checks=True)
    assert browserless.post("/preferences/forged:x:y/one-click/", ONE_CLICK_BODY).status_code == 400
    assert nothing_changed(contact)
    assert browserless.post(path_of(contact) + "one-click/", ONE_CLICK_BODY).status_code == 200
