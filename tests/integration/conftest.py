"""Provide real Dovecot and aiosmtpd servers to integration tests."""

from __future__ import annotations

import pytest

from tests.integration import servers
from tests.servers import server_missing


@pytest.fixture(scope="session")
def dovecot_server():
    """Start one private Dovecot for the session; tests get their own users from `dovecot`."""
    binary = servers.find_dovecot()
    if binary is None:
        server_missing("dovecot (Debian package dovecot-imapd)")
    server = servers.start_dovecot(binary)
    yield server
    servers.stop_dovecot(server)


@pytest.fixture
def dovecot(dovecot_server):
    """Return a fresh account (host, port, user, password, deliver(), ...) on Dovecot."""
    return dovecot_server.add_account()


@pytest.fixture
def smtp_sink():
    """Start an aiosmtpd server that requires AUTH and records what it accepts."""
    sink = servers.start_smtp_sink()
    yield sink
    sink.controller.stop()


@pytest.fixture
def smtp_tls_sink(tmp_path):
    """Start a sink that offers STARTTLS with a self-signed certificate."""
    sink = servers.start_smtp_sink(servers.self_signed_tls_context(tmp_path))
    yield sink
    sink.controller.stop()
