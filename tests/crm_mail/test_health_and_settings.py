"""The health endpoint and the settings helpers that read the environment."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from crm_mail.env import database_from_url, env_bool, env_int

ROOT = Path(__file__).resolve().parents[2]
# What a load balancer's probe may wait for /health/, database check included.
HEALTH_WITHIN = 2.0


@pytest.fixture
def product_broker():
    """Point the Celery app at the broker the settings name (the tests' jobs go to an
    in-memory one, tests/conftest.py), so the health check reaches the real one."""
    from django.conf import settings

    from crm_mail.celery import app

    saved = app.conf.broker_url, app.conf.broker_transport_options
    app.conf.broker_url = settings.CELERY_BROKER_URL
    app.conf.broker_transport_options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
    yield app
    app.conf.broker_url, app.conf.broker_transport_options = saved


def test_health_reports_database_and_broker(client, background_alive, product_broker):
    response = client.get("/health/")
    body = response.json()
    assert body["checks"]["database"] == {"ok": True}
    assert body["checks"]["broker"]["ok"] is True, body
    assert response.status_code == 200 and body["status"] == "ok"


def health(client) -> tuple[float, int, dict]:
    """GET /health/: (seconds it took, status code, what the broker check says)."""
    started = time.monotonic()
    response = client.get("/health/")
    took = time.monotonic() - started
    body = response.json()
    assert body["checks"]["database"] == {"ok": True}
    return took, response.status_code, body["checks"]["broker"]


@pytest.mark.timeout(60)  # the old check waited forever on a hung Redis: fail, never hang
def test_health_answers_503_at_once_when_the_broker_is_down(client, db, celery_broker, dead_broker):
    celery_broker(dead_broker)
    took, status, broker = health(client)
    assert status == 503
    assert broker["ok"] is False
    assert broker["error"].startswith("unreachable (OperationalError: ")
    # The check waits 1 s at most (crm_mail/health.py); it took 2 s when Redis refused, and
    # forever when it hung.
    assert took < HEALTH_WITHIN, f"/health/ took {took:.2f} s"


@pytest.mark.timeout(60)
def test_health_follows_redis_stopped_hung_and_back(
    client, background_alive, celery_broker, redis_server
):
    celery_broker(redis_server.url)
    assert health(client)[1:] == (200, {"ok": True})

    redis_server.stop()
    took, status, broker = health(client)
    assert (status, broker["ok"], took < HEALTH_WITHIN) == (503, False, True), (took, broker)

    redis_server.start()
    assert health(client)[1:] == (200, {"ok": True})

    redis_server.pause()
    try:
        took, status, broker = health(client)
    finally:
        redis_server.resume()
    assert (status, broker["ok"], took < HEALTH_WITHIN) == (503, False, True), (took, broker)
    assert "Timeout" in broker["error"]

    assert health(client)[1:] == (200, {"ok": True})


def test_database_urls_are_understood(tmp_path):
    pg = database_from_url("postgres://u:p%40ss@db.example:5433/crm", tmp_path)
    assert (pg["NAME"], pg["USER"], pg["PASSWORD"], pg["HOST"], pg["PORT"]) == (
        "crm",
        "u",
        "p@ss",
        "db.example",
        "5433",
    )
    assert database_from_url("sqlite:////abs/x.db", tmp_path)["NAME"] == "/abs/x.db"
    assert database_from_url("sqlite:///rel.db", tmp_path)["NAME"] == str(tmp_path / "rel.db")
    with pytest.raises(ImproperlyConfigured):
        database_from_url("mysql://x/y", tmp_path)


def test_bad_environment_values_fail_loudly(monkeypatch):
    monkeypatch.setenv("X_FLAG", "maybe")
    monkeypatch.setenv("X_NUM", "ten")
    with pytest.raises(ImproperlyConfigured):
        env_bool("X_FLAG")
    with pytest.raises(ImproperlyConfigured):
        env_int("X_NUM", 1)


def _manage(*args, **env):
    full_env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_ENV", "DJANGO_DEBUG")}
    full_env.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_settings_pass_the_deploy_check():
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DJANGO_ENV="production",
        DJANGO_SECRET_KEY="x" * 20 + "a-long-random-production-key-0123456789",
        DJANGO_ALLOWED_HOSTS="crm.example.com",
        CRM_ENCRYPTION_KEYS="kK8tqZQKZcJ5m8yq5m3r1YwzV7y9bS2jv2lQeTgL0aA=",
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("missing", ["DJANGO_SECRET_KEY", "CRM_ENCRYPTION_KEYS"])
def test_production_refuses_to_start_without_its_secrets(missing):
    env = {
        "DJANGO_ENV": "production",
        "DJANGO_ALLOWED_HOSTS": "crm.example.com",
        "DJANGO_SECRET_KEY": "x" * 50,
        "CRM_ENCRYPTION_KEYS": "kK8tqZQKZcJ5m8yq5m3r1YwzV7y9bS2jv2lQeTgL0aA=",
        missing: "",
    }
    result = _manage("check", **env)
    assert result.returncode != 0 and f"{missing} is required" in result.stderr


PRINT_ALLOWED_HOSTS = "from django.conf import settings; print(settings.ALLOWED_HOSTS)"


def test_the_tracking_host_is_accepted_beside_the_allowed_hosts():
    result = _manage(
        "shell",
        "-c",
        PRINT_ALLOWED_HOSTS,
        DJANGO_ALLOWED_HOSTS="crm.example.com",
        CRM_TRACKING_HOST=" T.Example.com ",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("['crm.example.com', 't.example.com']")


def test_a_tracking_host_that_is_no_host_name_stops_the_start():
    result = _manage("check", CRM_TRACKING_HOST="https://t.example.com")
    assert result.returncode != 0
    assert "CRM_TRACKING_HOST must be a host name like t.example.com" in result.stderr


def test_the_ui_language_is_set_by_crm_language_and_checked():
    said = "from django.utils.translation import gettext; print(gettext('This field is required.'))"
    # Django's own Italian catalogue is there; the product's would sit in locale/it/.
    result = _manage("shell", "-c", said, CRM_LANGUAGE="it")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("Questo campo è obbligatorio.")
    result = _manage("check", CRM_LANGUAGE="Italian please")
    assert result.returncode != 0
    assert "CRM_LANGUAGE must be a language code like en-us or it, not 'italian please'" in (
        result.stderr
    )
