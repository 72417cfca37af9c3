"""Settings > Email > SMTP API and Settings > Integrations > API keys: admins only; a secret is
in the one response that made it and in no later page; reset, delete and revoke by POST."""

import re

import pytest
from django.urls import reverse

from transactional.credentials import services
from transactional.credentials.auth import authenticate_api_key, verify_smtp
from transactional.credentials.constants import CredentialKind, EventKind, Scope
from transactional.credentials.models import Credential, CredentialEvent

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
        TOKENS, {"name": "Shop", "create_contacts": "on", "campaign_name": "Receipts"}
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
        TOKENS, {"name": "", "campaign_name": "Receipts", "create_contacts": "on"}
    )
    html = response.content.decode()
    assert 'role="alert">This field is required.' in html
    assert 'value="Receipts"' in html and "checked" in html
    assert '<details class="card generate cred-card" open>' in html
    assert not Credential.objects.exists()


def test_reset_shows_a_new_password_and_the_old_one_stops(admin, admin_user):
    issued = services.smtp_token_create("Shop", admin_user)
    response = admin.post(reverse("transactional:smtp-token-reset", args=[issued.credential.pk]))
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
    response = admin.post(KEYS, {"name": "ERP", "scopes": ["transactional-email.read"]})
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
    html = admin.post(KEYS, {"name": "ERP"}).content.decode()
    assert "Choose at least one scope." in html and 'value="ERP"' in html
    assert admin.post(KEYS, {"name": "ERP", "scopes": ["everything"]}).status_code == 200
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
