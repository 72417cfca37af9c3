"""The system email's settings (CRM_SYSTEM_EMAIL_URL, crm_mail/env.py): read from one URL;
in development the local catcher of `make run`, so notifications show at /dev/mail/; in
production none until set, which Settings > System health says."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from crm_mail.catcher import caught, start_catcher
from crm_mail.env import email_from_url
from tests.crm_mail.test_health_and_settings import _manage
from tests.integration.servers import free_port

SEND = "from django.core.mail import send_mail; send_mail('Task due: Call Olivia', 'Due now.', None, ['rep@crm.example'])"  # noqa: E501
PRINT_URL = "from django.conf import settings; print(repr(settings.CRM_SYSTEM_EMAIL_URL))"
PRODUCTION = {
    "DJANGO_ENV": "production",
    "DJANGO_SECRET_KEY": "x" * 50,
    "DJANGO_ALLOWED_HOSTS": "crm.example.com",
    "CRM_ENCRYPTION_KEYS": "ZmDfcTF7_60GrrY167zsiPd67pEvs0aGOv2oasOM1Pg=",
}


def test_the_url_gives_djangos_email_settings():
    assert email_from_url("smtp://notify%40crm.example:p%40ss%2Fw@smtp.example.com:587?tls=1") == {
        "EMAIL_HOST": "smtp.example.com",
        "EMAIL_PORT": 587,
        "EMAIL_HOST_USER": "notify@crm.example",
        "EMAIL_HOST_PASSWORD": "p@ss/w",
        "EMAIL_USE_TLS": True,
        "EMAIL_USE_SSL": False,
    }
    ssl = email_from_url("smtp://u:p@smtp.example.com?ssl=1")
    assert (ssl["EMAIL_PORT"], ssl["EMAIL_USE_SSL"], ssl["EMAIL_USE_TLS"]) == (465, True, False)
    assert email_from_url("smtp://127.0.0.1:1025")["EMAIL_HOST_USER"] == ""
    assert email_from_url("") == {}


@pytest.mark.parametrize(
    "url",
    [
        "https://smtp.example.com",
        "smtp://",
        "smtp://smtp.example.com?tls=maybe",
        "smtp://smtp.example.com?tls=1&ssl=1",
        "smtp://smtp.example.com?starttls=1",
    ],
)
def test_a_bad_url_is_refused_at_startup(url):
    with pytest.raises(ImproperlyConfigured, match="CRM_SYSTEM_EMAIL_URL"):
        email_from_url(url)


def test_development_sends_system_email_to_the_catcher(tmp_path):
    port = free_port()
    controller = start_catcher(tmp_path, port=port)
    try:
        result = _manage("shell", "-c", SEND, CRM_MAIL_CATCHER_PORT=str(port))
    finally:
        controller.stop()
    assert result.returncode == 0, result.stderr
    (email,) = caught(tmp_path)
    assert b"Subject: Task due: Call Olivia" in email.read_bytes()


def test_production_has_no_system_email_until_it_is_set():
    result = _manage("shell", "-c", PRINT_URL, CRM_SYSTEM_EMAIL_URL="", **PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "''"


def test_system_health_says_when_notifications_cannot_be_sent(client, admin_user, settings):
    client.force_login(admin_user)
    settings.CRM_SYSTEM_EMAIL_URL = ""
    page = client.get("/settings/health/").content.decode()
    assert "System email is not configured (CRM_SYSTEM_EMAIL_URL)" in page
    settings.CRM_SYSTEM_EMAIL_URL = "smtp://smtp.example.com"
    assert "System email is not configured" not in client.get("/settings/health/").content.decode()
