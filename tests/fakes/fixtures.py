"""Pytest fixtures that start the provider fakes and real mail servers and point the app at them.

tests/conftest.py makes them available to every test module. The
settings go through pytest-django's `settings` fixture, so pytest-django's live server (same
process, another thread) sees them too, and everything is undone after the test.
"""

from __future__ import annotations

import logging
import os

import pytest

from tests.fakes.ews import (
    isolate_exchangelib,
    make_certificate,
    reset_exchangelib,
    start_fake_exchange,
    stop_fake_exchange,
)
from tests.fakes.google import start_fake_google
from tests.fakes.microsoft import running_fake_microsoft
from tests.integration import servers
from tests.servers import server_missing

EXCHANGE_HOSTNAMES = ["mail.example.test", "autodiscover.example.test"]


@pytest.fixture
def fake_google(settings, monkeypatch):
    """Start the Google fake and configure GOOGLE_* and GMAIL_API_BASE to use it."""
    fake = start_fake_google()
    settings.GOOGLE_CLIENT_ID = fake.client_id
    settings.GOOGLE_CLIENT_SECRET = fake.client_secret
    settings.GOOGLE_AUTH_URI = fake.auth_uri
    settings.GOOGLE_TOKEN_URI = fake.token_uri
    settings.GOOGLE_REVOKE_URI = fake.revoke_uri
    settings.GMAIL_API_BASE = fake.api_base
    # The fake speaks plain http, which oauthlib refuses otherwise; production never sets it.
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    monkeypatch.delenv("OAUTHLIB_RELAX_TOKEN_SCOPE", raising=False)
    yield fake
    fake.stop()


@pytest.fixture
def fake_microsoft(settings, tmp_path):
    """Start the HTTPS Microsoft fake and configure MICROSOFT_* and OAUTH_VERIFY for it."""
    with running_fake_microsoft(tmp_path / "microsoft") as fake:
        settings.MICROSOFT_CLIENT_ID = fake.client_id
        settings.MICROSOFT_CLIENT_SECRET = fake.client_secret
        settings.MICROSOFT_AUTHORITY = fake.authority
        settings.MICROSOFT_GRAPH_BASE = fake.graph_base
        settings.OAUTH_VERIFY = str(fake.ca_path)
        yield fake


@pytest.fixture(scope="session")
def exchange_certificate(tmp_path_factory):
    return make_certificate(tmp_path_factory.mktemp("ews-tls"), EXCHANGE_HOSTNAMES)


@pytest.fixture
def fake_exchange(exchange_certificate, monkeypatch, tmp_path):
    """Start the EWS fake over HTTPS; requests (hence exchangelib) trust its certificate."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(exchange_certificate.ca_path))
    isolate_exchangelib(monkeypatch, tmp_path)
    logger = logging.getLogger("exchangelib")
    level = logger.level
    # exchangelib logs whole request dumps on every refused login.
    logger.setLevel(logging.CRITICAL)
    fake = start_fake_exchange(exchange_certificate.context)
    yield fake
    stop_fake_exchange(fake)
    reset_exchangelib()
    logger.setLevel(level)


@pytest.fixture(scope="session")
def dovecot_server():
    """One private Dovecot for the session (tests/integration/servers.py)."""
    binary = servers.find_dovecot()
    if binary is None:
        server_missing("dovecot (Debian package dovecot-imapd)")
    server = servers.start_dovecot(binary)
    yield server
    servers.stop_dovecot(server)


@pytest.fixture
def dovecot(dovecot_server):
    """A fresh IMAP account: host, port, user, password, email (plain login, no TLS)."""
    return dovecot_server.add_account()


@pytest.fixture
def redis_url():
    """REDIS_URL, the broker and cache the settings use; skipped (failed under CI) without."""
    url = os.environ.get("REDIS_URL")
    if not url:
        server_missing("Redis (set REDIS_URL)")
    return url


@pytest.fixture
def redis_server():
    """A private redis-server of the test's own, to stop, hang and start again."""
    binary = servers.find_redis_server()
    if binary is None:
        server_missing("redis-server (Debian package redis-server)")
    server = servers.start_redis(binary)
    yield server
    servers.stop_redis(server)


@pytest.fixture(params=["refused", "hung"])
def dead_broker(request):
    """The URL of a Redis that is down: nothing listens on its port ("refused"), or it
    accepts connections and never answers ("hung")."""
    if request.param == "refused":
        yield f"redis://127.0.0.1:{servers.free_port()}/0"
        return
    server = servers.HungServer()
    yield f"redis://127.0.0.1:{server.port}/0"
    server.close()


@pytest.fixture
def smtp_sink():
    """An aiosmtpd server that requires AUTH as `sink.user` / `sink.password`, no TLS."""
    sink = servers.start_smtp_sink()
    yield sink
    sink.controller.stop()


@pytest.fixture
def dsn_relay():
    """`smtp_sink` as a relay that advertises DSN (RFC 3461) and keeps what each message asked
    for (`ReceivedMessage.dsn_mail`, `dsn_rcpt`)."""
    sink = servers.start_smtp_sink(dsn=True)
    yield sink
    sink.controller.stop()
