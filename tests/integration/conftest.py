"""Fixtures only the integration tests use; the shared servers live in tests/fakes/fixtures.py
(made available everywhere by tests/conftest.py) and are re-exported here for old imports."""

from __future__ import annotations

import pytest

from tests.fakes.fixtures import dovecot, dovecot_server, smtp_sink  # noqa: F401
from tests.integration import servers


@pytest.fixture
def smtp_tls_sink(tmp_path):
    """Start a sink that offers STARTTLS with a self-signed certificate."""
    sink = servers.start_smtp_sink(servers.self_signed_tls_context(tmp_path))
    yield sink
    sink.controller.stop()
