"""The production stack: TLS ends at Caddy, and only the web service behind it trusts the
proxy's headers.

docker-compose.yml is read as YAML (merge keys resolved, as Compose reads them); when the
docker-compose tool is installed, `docker-compose config` checks the whole file too.
"""

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.crm_mail.test_health_and_settings import _manage

ROOT = Path(__file__).resolve().parents[2]
REQUIRED = {
    "DJANGO_SECRET_KEY": "x",
    "DJANGO_ALLOWED_HOSTS": "x",
    "CRM_ENCRYPTION_KEYS": "x",
    "CRM_BASE_URL": "https://x",
}
PRODUCTION = {
    "DJANGO_ENV": "production",
    "DJANGO_SECRET_KEY": "x" * 50,
    "DJANGO_ALLOWED_HOSTS": "crm.example.com",
    "CRM_ENCRYPTION_KEYS": "kK8tqZQKZcJ5m8yq5m3r1YwzV7y9bS2jv2lQeTgL0aA=",
}
PRINT_PROXY_HEADER = (
    "from django.conf import settings; print(getattr(settings, 'SECURE_PROXY_SSL_HEADER', None))"
)


def services() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]


def test_only_caddy_and_the_smtp_api_are_published_and_web_is_reached_through_caddy():
    stack = services()
    published = {name for name, service in stack.items() if service.get("ports")}
    # SMTP clients reach the SMTP API server itself (it does its own TLS); HTTP goes via Caddy.
    assert published == {"caddy", "smtp-api"}
    assert {port.split(":")[-1] for port in stack["smtp-api"]["ports"]} == {"587", "465"}
    assert {"80:80", "443:443"} <= set(stack["caddy"]["ports"])
    assert "./Caddyfile:/etc/caddy/Caddyfile:ro" in stack["caddy"]["volumes"]
    caddyfile = (ROOT / "Caddyfile").read_text()
    assert "{$CRM_BASE_URL}" in caddyfile
    assert "reverse_proxy web:8000" in caddyfile


def test_the_tracking_host_reaches_the_app_and_caddy_serves_it():
    stack = services()
    for name in ("caddy", "web", "worker-send"):
        assert stack[name]["environment"]["CRM_TRACKING_HOST"] == "${CRM_TRACKING_HOST:-}"
    # Caddy replaces {$VAR} in the text before parsing: unset, the site has one address.
    site = next(
        line for line in (ROOT / "Caddyfile").read_text().splitlines() if line.endswith("{")
    )
    assert site == "{$CRM_BASE_URL} {$CRM_TRACKING_HOST} {"


def test_only_the_web_service_trusts_the_proxy_headers():
    stack = services()
    trusting = {
        name
        for name, service in stack.items()
        if str(service.get("environment", {}).get("DJANGO_BEHIND_PROXY", "")).lower() == "true"
    }
    assert trusting == {"web"}
    # The rest of web's environment is the shared one, not replaced by the override.
    assert stack["web"]["environment"]["DJANGO_ENV"] == "production"
    assert "CRM_ENCRYPTION_KEYS" in stack["web"]["environment"]


def test_web_runs_as_many_gunicorn_workers_as_web_concurrency_says():
    """Five by default (2 x cores + 1 on a 2-core machine), as the benches run it; the README
    tells an admin to set it for theirs."""
    command = services()["web"]["command"]
    assert "gunicorn crm_mail.wsgi:application" in command
    assert "--workers ${WEB_CONCURRENCY:-5}" in command
    assert "`WEB_CONCURRENCY`" in (ROOT / "README.md").read_text()


def test_docker_compose_config_passes_with_the_required_variables():
    tool = shutil.which("docker-compose")
    if tool is None:
        pytest.skip("docker-compose is not installed")
    env = {k: v for k, v in os.environ.items() if k not in REQUIRED}
    result = subprocess.run(
        [tool, "config", "--quiet"],
        cwd=ROOT,
        env={**env, **REQUIRED},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def test_production_does_not_trust_x_forwarded_proto_by_default():
    result = _manage("shell", "-c", PRINT_PROXY_HEADER, **PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "None"


def test_production_behind_the_proxy_trusts_x_forwarded_proto():
    result = _manage("shell", "-c", PRINT_PROXY_HEADER, DJANGO_BEHIND_PROXY="true", **PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "('HTTP_X_FORWARDED_PROTO', 'https')"


def test_every_queue_has_a_worker_service():
    """Each routed queue (transactional's too) is consumed by a worker of its own."""
    from django.conf import settings

    consumed = set()
    for service in services().values():
        command = service.get("command") or []
        if "worker" in command and "-Q" in command:
            consumed.update(command[command.index("-Q") + 1].split(","))
    assert set(settings.CRM_QUEUES) <= consumed
