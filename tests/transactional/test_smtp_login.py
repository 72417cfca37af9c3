"""SMTP logins go through django.contrib.auth, so django-axes counts their failures with the
web login's policy: repeated wrong passwords lock the token's username, and an address, even
against the right password; a token never signs anyone in to the web app."""

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.http import HttpRequest
from django.urls import reverse

from transactional.credentials import services
from transactional.credentials.auth import authenticate_smtp
from transactional.credentials.constants import EventKind

pytestmark = pytest.mark.django_db

ATTACKER = "198.51.100.7"
ELSEWHERE = "203.0.113.9"


@pytest.fixture
def token(admin_user):
    return services.smtp_token_create("Shop", admin_user)


def fail(username, times, address=ATTACKER):
    for _ in range(times):
        assert authenticate_smtp(username, "not-the-password", client_address=address) is None


def test_the_right_password_signs_in_and_a_wrong_one_is_counted(token):
    assert authenticate_smtp(token.username, token.password, client_address=ATTACKER)

    fail(token.username, 1)

    attempt = AccessAttempt.objects.get()
    assert (attempt.username, attempt.ip_address, attempt.failures_since_start) == (
        token.username,
        ATTACKER,
        1,
    )


def test_repeated_wrong_passwords_lock_the_token_out_even_from_elsewhere(token):
    fail(token.username, settings.AXES_FAILURE_LIMIT)

    assert authenticate_smtp(token.username, token.password, client_address=ATTACKER) is None
    assert authenticate_smtp(token.username, token.password, client_address=ELSEWHERE) is None

    # An admin unlocks it the same way as a web login (manage.py axes_reset).
    call_command("axes_reset", stdout=open("/dev/null", "w"))
    assert authenticate_smtp(token.username, token.password, client_address=ELSEWHERE)


def test_an_address_guessing_many_usernames_is_locked_for_every_token(token):
    for n in range(settings.AXES_FAILURE_LIMIT):
        assert authenticate_smtp(f"guess{n}", "x", client_address=ATTACKER) is None

    assert authenticate_smtp(token.username, token.password, client_address=ATTACKER) is None
    assert authenticate_smtp(token.username, token.password, client_address=ELSEWHERE)


def test_a_success_clears_the_usernames_failures_as_a_web_sign_in_does(token):
    fail(token.username, settings.AXES_FAILURE_LIMIT - 1)
    assert authenticate_smtp(token.username, token.password, client_address=ELSEWHERE)
    assert not AccessAttempt.objects.filter(username=token.username).exists()


def test_the_smtp_failures_count_for_the_web_login_from_that_address(client, owner, token):
    fail(token.username, settings.AXES_FAILURE_LIMIT)

    response = client.post("/login/", {"username": "owner", "password": "pw"}, REMOTE_ADDR=ATTACKER)
    assert response.status_code == 429


def test_a_token_never_signs_in_to_the_web_app(client, token):
    request = HttpRequest()
    request.META["REMOTE_ADDR"] = ELSEWHERE
    assert authenticate(request, username=token.username, password=token.password) is None

    response = client.post(
        "/login/", {"username": token.username, "password": token.password}, REMOTE_ADDR=ELSEWHERE
    )
    assert response.status_code == 200 and "_auth_user_id" not in client.session


def test_an_admin_sees_a_locked_token_and_unlocks_it(client, admin_user, token):
    client.force_login(admin_user)
    tokens = reverse("transactional:smtp-tokens")
    assert "Locked after failed logins" not in client.get(tokens).content.decode()
    fail(token.username, settings.AXES_FAILURE_LIMIT)
    assert "Locked after failed logins" in client.get(tokens).content.decode()

    unlock = reverse("transactional:smtp-token-unlock", args=[token.credential.pk])
    html = client.post(unlock, follow=True).content.decode()

    assert "Token “Shop” can log in again." in html
    assert "Locked after failed logins" not in html
    assert authenticate_smtp(token.username, token.password, client_address=ELSEWHERE)
    assert token.credential.events.filter(kind=EventKind.UNLOCKED, actor=admin_user).exists()
