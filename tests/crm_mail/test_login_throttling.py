"""Login throttling: wrong passwords lock a username and an address (django-axes), the login
page says so, and an admin unlocks them.

Each request names its client address (REMOTE_ADDR, or X-Forwarded-For behind the proxy); the
addresses are documentation ranges and only ever travel inside the test client.
"""

import pytest
from django.conf import settings
from django.core.management import call_command
from django.urls import reverse

LOGIN = "/login/"
HOME = reverse("records:home")
ATTACKER = "198.51.100.7"
ELSEWHERE = "203.0.113.9"
LOCKED_TEXT = "Too many failed sign-ins for this username or from this address"


def sign_in(client, username, password, address, **headers):
    client.logout()
    return client.post(
        LOGIN, {"username": username, "password": password}, REMOTE_ADDR=address, **headers
    )


def signed_in(response) -> bool:
    return response.status_code == 302 and response.url == HOME


def fail_until_locked(client, username, address):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        response = sign_in(client, username, "not-the-password", address)
        assert response.status_code in (200, 429)


def test_the_limit_is_small():
    # 60 wrong passwords in 25 s were all answered before; now a handful are.
    assert 3 <= settings.AXES_FAILURE_LIMIT <= 10
    assert settings.AXES_COOLOFF_TIME.total_seconds() >= 5 * 60


def test_wrong_passwords_lock_the_account_and_the_right_one_is_then_refused(client, owner):
    fail_until_locked(client, "owner", ATTACKER)

    response = sign_in(client, "owner", "pw", ATTACKER)

    assert response.status_code == 429
    assert not signed_in(response)
    page = response.content.decode()
    assert LOCKED_TEXT in page
    assert "locked for 15 minutes" in page
    assert 'role="alert"' in page and "<form" in page  # the login page, not a bare reply
    assert 'name="username" value="owner"' in page
    assert "_auth_user_id" not in client.session


def test_the_account_stays_locked_from_another_address(client, owner):
    fail_until_locked(client, "owner", ATTACKER)

    response = sign_in(client, "owner", "pw", ELSEWHERE)

    assert response.status_code == 429 and LOCKED_TEXT in response.content.decode()


def test_an_address_trying_many_accounts_is_locked_for_every_account(client, owner, teammate):
    for n in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, f"guess{n}", "not-the-password", ATTACKER)

    assert sign_in(client, "teammate", "pw", ATTACKER).status_code == 429
    # The same account from elsewhere is not the address that was locked.
    assert signed_in(sign_in(client, "teammate", "pw", ELSEWHERE))


def test_another_account_from_another_address_is_unaffected(client, owner, teammate):
    fail_until_locked(client, "owner", ATTACKER)

    assert signed_in(sign_in(client, "teammate", "pw", ELSEWHERE))


def test_a_success_before_the_limit_clears_the_failures(client, owner):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        sign_in(client, "owner", "not-the-password", ATTACKER)
    assert signed_in(sign_in(client, "owner", "pw", ATTACKER))

    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        sign_in(client, "owner", "not-the-password", ATTACKER)
    assert signed_in(sign_in(client, "owner", "pw", ATTACKER))


def test_an_admin_unlocks_the_account_from_settings_users(client, owner, admin_user):
    fail_until_locked(client, "owner", ATTACKER)

    client.force_login(admin_user)
    users = client.get(reverse("records:settings-users")).content.decode()
    assert "Unlock owner" in users
    response = client.post(reverse("records:settings-user-unlock", args=[owner.pk]), follow=True)
    assert "owner can sign in again." in response.content.decode()
    assert "Unlock owner" not in response.content.decode()

    assert signed_in(sign_in(client, "owner", "pw", ATTACKER))


def test_only_admins_unlock(client, owner, teammate):
    fail_until_locked(client, "owner", ATTACKER)
    client.force_login(teammate)

    response = client.post(reverse("records:settings-user-unlock", args=[owner.pk]))

    assert response.status_code == 403
    assert sign_in(client, "owner", "pw", ATTACKER).status_code == 429


def test_manage_py_axes_reset_unlocks_everyone(client, owner):
    fail_until_locked(client, "owner", ATTACKER)

    call_command("axes_reset", stdout=open("/dev/null", "w"))

    assert signed_in(sign_in(client, "owner", "pw", ATTACKER))


def test_the_locked_out_page_has_a_translatable_message():
    template = (settings.BASE_DIR / "templates" / "registration" / "login.html").read_text()
    assert "{% blocktranslate" in template and LOCKED_TEXT.split(" for ")[0] in template


@pytest.mark.parametrize("behind_proxy", [True, False])
def test_the_address_behind_the_proxy_is_the_one_caddy_saw(
    client, owner, teammate, settings, behind_proxy
):
    settings.BEHIND_PROXY = behind_proxy
    # Everyone reaches gunicorn from Caddy's address; Caddy puts the client's last.
    proxy = "172.18.0.5"
    for n in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, f"guess{n}", "x", proxy, HTTP_X_FORWARDED_FOR=f"10.9.9.9, {ATTACKER}")

    other_client = sign_in(client, "teammate", "pw", proxy, HTTP_X_FORWARDED_FOR=ELSEWHERE)

    # Behind the proxy only the attacker's address is locked; without it, a header a client
    # sent is not believed, so the one address there is (the proxy's) is what was locked.
    assert signed_in(other_client) is behind_proxy
