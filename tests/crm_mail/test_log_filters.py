"""The console log leaves out the libraries' per-sign-in lines that say nothing (django-axes'
"Reset 0 access attempts", aiosmtpd's login_data deprecation), and keeps everything else."""

import asyncio
import io
import logging

import pytest
from aiosmtpd.smtp import Session

from crm_mail.log_filters import LibraryNoise

from .test_login_throttling import sign_in, signed_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def console():
    """What the configured console handler writes, for the test's length."""
    handler = next(
        h
        for h in logging.getLogger().handlers
        if any(isinstance(f, LibraryNoise) for f in h.filters)
    )
    stream = io.StringIO()
    previous = handler.setStream(stream)
    yield stream
    handler.setStream(previous)


def test_a_sign_in_logs_no_empty_reset(client, django_user_model, console):
    django_user_model.objects.create_user("rep", password="right-password-1")
    assert signed_in(sign_in(client, "rep", "right-password-1", "192.0.2.10"))
    written = console.getvalue()
    assert "AXES: Successful login" in written  # the sign-in itself is still logged
    for empty in ("AXES: Reset", "AXES: Deleted", "AXES: Cleaned up"):
        assert empty not in written


def test_a_reset_of_real_failures_still_shows(client, django_user_model, console):
    django_user_model.objects.create_user("rep", password="right-password-1")
    for _ in range(2):
        assert not signed_in(sign_in(client, "rep", "wrong", "192.0.2.10"))
    assert signed_in(sign_in(client, "rep", "right-password-1", "192.0.2.10"))
    written = console.getvalue()
    assert "AXES: Reset 1 access attempts from database." in written
    assert "AXES: Deleted 1 failed login attempts" in written


def test_aiosmtpd_login_data_warning_is_dropped_and_other_lines_kept(console):
    loop = asyncio.new_event_loop()
    try:
        Session(loop).login_data = b"token-user"  # what aiosmtpd does on every good AUTH
    finally:
        loop.close()
    logging.getLogger("mail.log").warning("Connection lost during _handle_client()")
    written = console.getvalue()
    assert "login_data is deprecated" not in written
    assert "Connection lost during _handle_client()" in written
