"""Settings > Email > SMTP API and Settings > Integrations > API keys: admins only; a secret is
in the one response that made it and in no later page; reset, delete and revoke by POST."""

import re

import pytest
from django.urls import reverse

from transactional.credentials import services
from transactional.credentials.auth import authenticate_api_key, verify_smtp
from transactional.credentials.constants import CredentialKind, EventKind, Scope
from transactional.credentials.models import Credential, CredentialEvent
from transactional.credentials.nonces import new

pytestmark = pytest.mark.django_db

TOKENS = reverse("transactional:smtp-tokens")
KEYS = reverse("transactional:api-keys")


def shown(html: str, field: str) -> str:
    return re.search(rf'id="issued-{field}" type="text" value="([^"]+)"', html).group(1)


@pytest.fixture
def admin(client, admin_user):
    client.force_login(admin_user)
    return client


def test_only_admins_open_or_change_credentials(client, owner, admin_user):
    token = services.smtp_token_create("Shop", admin_user).credential
    key = services.api_key_create("ERP", admin_user, scopes=[Scope.TRANSACTIONAL_EMAIL]).credential
    client.force_login(owner)
    for url in (TOKENS, KEYS, reverse("transactional:smtp-token", args=[token.pk])):
        assert client.get(url).status_code == 403
    assert client.post(TOKENS, {"name": "Mine"}).status_code == 403
    for name, pk in (
        ("smtp-token-reset", token.pk),
        ("smtp-token-delete", token.pk),
        ("api-key-revoke", key.pk),
    ):
        assert client.post(reverse(f"transactional:{name}", args=[pk])).status_code == 403
    assert Credential.objects.live().count() == 2
    assert CredentialEvent.objects.filter(kind=EventKind.CREATED).count() == 2


def test_generating_a_token_shows_its_username_and_password_once(admin, admin_user):
    response = admin.post(
        TOKENS,
        {"name": "Shop", "create_contacts": "on", "campaign_name": "Receipts", "nonce": new()},
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert "You won't see this password again." in html
    username, password = shown(html, "username"), shown(html, "password")
    credential = verify_smtp(username, password)
    assert credential.name == "Shop" and credential.created_by == admin_user
    assert credential.create_contacts and credential.campaign_name == "Receipts"

    later = admin.get(TOKENS).content.decode()
    assert "Shop" in later and username in later
    assert password not in later and "issued-password" not in later
    details = admin.get(reverse("transactional:smtp-token", args=[credential.pk])).content.decode()
    assert password not in details and "Receipts" in details


def test_a_token_without_a_name_is_refused_and_what_was_typed_stays(admin):
    response = admin.post(
        TOKENS, {"name": "", "campaign_name": "Receipts", "create_contacts": "on", "nonce": new()}
    )
    html = response.content.decode()
    assert 'role="alert">This field is required.' in html
    assert 'value="Receipts"' in html and "checked" in html
    assert '<details class="card generate cred-card" open>' in html
    assert not Credential.objects.exists()


def test_reset_shows_a_new_password_and_the_old_one_stops(admin, admin_user):
    issued = services.smtp_token_create("Shop", admin_user)
    response = admin.post(
        reverse("transactional:smtp-token-reset", args=[issued.credential.pk]), {"nonce": new()}
    )
    html = response.content.decode()
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    assert shown(html, "username") == issued.username
    password = shown(html, "password")
    assert password != issued.password
    assert verify_smtp(issued.username, issued.password) is None
    assert verify_smtp(issued.username, password) == issued.credential


def test_delete_hides_the_token_and_refuses_it(admin, admin_user):
    issued = services.smtp_token_create("Shop", admin_user)
    url = reverse("transactional:smtp-token-delete", args=[issued.credential.pk])
    assert admin.get(url).status_code == 405  # a link cannot delete
    response = admin.post(url, follow=True)
    html = response.content.decode()
    assert "Token “Shop” deleted" in html
    assert "issued-" not in html and ">Shop</a>" not in html
    assert verify_smtp(issued.username, issued.password) is None
    details = reverse("transactional:smtp-token", args=[issued.credential.pk])
    assert admin.get(details).status_code == 404
    assert admin.post(url).status_code == 404


def test_creating_a_key_shows_it_once_with_its_scopes(admin, admin_user):
    response = admin.post(
        KEYS, {"name": "ERP", "scopes": ["transactional-email.read"], "nonce": new()}
    )
    html = response.content.decode()
    assert "no-store" in response["Cache-Control"]
    assert "You won't see this key again." in html
    key = shown(html, "key")
    credential = authenticate_api_key(f"Bearer {key}")
    assert credential.kind == CredentialKind.API_KEY
    assert credential.scopes == ["transactional-email.read"]
    later = admin.get(KEYS).content.decode()
    assert key not in later and credential.api_key_hint in later


def test_a_key_needs_a_scope(admin):
    html = admin.post(KEYS, {"name": "ERP", "nonce": new()}).content.decode()
    assert "Choose at least one scope." in html and 'value="ERP"' in html
    assert (
        admin.post(KEYS, {"name": "ERP", "scopes": ["everything"], "nonce": new()}).status_code
        == 200
    )
    assert not Credential.objects.exists()


def test_revoking_a_key_refuses_it(admin, admin_user):
    issued = services.api_key_create("ERP", admin_user, scopes=[Scope.TRANSACTIONAL_EMAIL])
    response = admin.post(
        reverse("transactional:api-key-revoke", args=[issued.credential.pk]), follow=True
    )
    assert "Key “ERP” revoked" in response.content.decode()
    assert authenticate_api_key(f"Bearer {issued.api_key}") is None
    # A token's pages do not reach a key, nor the other way round.
    token = services.smtp_token_create("Shop", admin_user).credential
    assert admin.post(reverse("transactional:api-key-revoke", args=[token.pk])).status_code == 404


def test_the_same_generate_form_posted_again_makes_nothing_and_says_so(admin, admin_user):
    form = {"name": "Shop", "nonce": new()}
    first = admin.post(TOKENS, form)
    assert first.status_code == 200 and "issued-password" in first.content.decode()

    again = admin.post(TOKENS, form)  # a reload of the page that showed the password
    html = again.content.decode()
    assert again.status_code == 409 and "no-store" in again["Cache-Control"]
    assert "issued-password" not in html
    assert "token “Shop” was generated then, and its password was shown once." in html
    assert "reset the token's password to get a new one" in html
    assert f'href="{TOKENS}"' in html
    assert Credential.objects.filter(kind=CredentialKind.SMTP_TOKEN).count() == 1
    # A new form (a new nonce) makes another.
    assert admin.post(TOKENS, {"name": "Shop", "nonce": new()}).status_code == 200
    assert Credential.objects.filter(kind=CredentialKind.SMTP_TOKEN).count() == 2


def test_a_reset_or_a_key_posted_again_changes_nothing(admin, admin_user):
    issued = services.smtp_token_create("Shop", admin_user)
    reset = reverse("transactional:smtp-token-reset", args=[issued.credential.pk])
    nonce = new()
    password = shown(admin.post(reset, {"nonce": nonce}).content.decode(), "password")
    again = admin.post(reset, {"nonce": nonce})
    assert again.status_code == 409
    assert "the password of “Shop” was reset then" in again.content.decode()
    assert verify_smtp(issued.username, password) == issued.credential  # still the one shown

    form = {"name": "ERP", "scopes": ["transactional-email"], "nonce": new()}
    key = shown(admin.post(KEYS, form).content.decode(), "key")
    again = admin.post(KEYS, form)
    assert again.status_code == 409 and "key “ERP” was created then" in again.content.decode()
    assert f'href="{KEYS}"' in again.content.decode()
    assert Credential.objects.filter(kind=CredentialKind.API_KEY).count() == 1
    assert authenticate_api_key(f"Bearer {key}") is not None


def test_a_form_without_its_nonce_changes_nothing_and_keeps_what_was_typed(admin, admin_user):
    html = admin.post(TOKENS, {"name": "Shop", "campaign_name": "Receipts"}).content.decode()
    assert "The form was incomplete: nothing was made. Please send it again." in html
    assert 'value="Receipts"' in html
    # The form shown again carries a usable nonce: sent again, it works.
    nonce = re.search(r'name="nonce" value="([^"]+)"', html).group(1)
    assert admin.post(TOKENS, {"name": "Shop", "nonce": nonce}).status_code == 200

    issued = services.smtp_token_create("Other", admin_user)
    reset = reverse("transactional:smtp-token-reset", args=[issued.credential.pk])
    response = admin.post(reset, follow=True)
    assert "The form was incomplete: nothing changed." in response.content.decode()
    assert verify_smtp(issued.username, issued.password) == issued.credential


def test_a_tokens_limits_are_set_when_generated_and_edited_on_its_page(admin, admin_user, settings):
    settings.SMTP_API_MINUTE_LIMIT, settings.SMTP_API_HOUR_LIMIT = 600, 10_000
    admin.post(TOKENS, {"name": "Shop", "minute_limit": "30", "hour_limit": "", "nonce": new()})
    token = Credential.objects.get(name="Shop")
    assert (token.minute_limit, token.hour_limit, token.sending_limits) == (30, None, (30, 10_000))

    page = reverse("transactional:smtp-token", args=[token.pk])
    html = admin.get(page).content.decode()
    assert 'name="minute_limit" value="30"' in html
    assert "Blank: the server&#x27;s default, 10,000." in html

    # Bad input: refused with why, what was typed kept, nothing changed.
    response = admin.post(page, {"minute_limit": "500", "hour_limit": "100"})
    html = response.content.decode()
    assert response.status_code == 400
    assert "An hour&#x27;s limit cannot be lower than a minute&#x27;s (500)." in html
    assert 'value="500"' in html and 'value="100"' in html
    assert admin.post(page, {"minute_limit": "0"}).status_code == 400
    assert admin.post(page, {"minute_limit": "many"}).status_code == 400
    token.refresh_from_db()
    assert (token.minute_limit, token.hour_limit) == (30, None)

    response = admin.post(page, {"minute_limit": "", "hour_limit": "500"}, follow=True)
    assert "Sending limits of “Shop” saved" in response.content.decode()
    token.refresh_from_db()
    assert token.sending_limits == (600, 500)
    assert token.events.first().kind == EventKind.LIMITS_CHANGED
    response = admin.post(page, {"minute_limit": "", "hour_limit": "500"}, follow=True)
    assert "nothing changed" in response.content.decode()
    assert token.events.filter(kind=EventKind.LIMITS_CHANGED).count() == 1
