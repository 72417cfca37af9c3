"""The SMTP API server end to end: real clients (smtplib, aiosmtplib) submit with a token over
STARTTLS or implicit TLS; the message is in the outbox before the 250, and the pool's worker
delivers it to an aiosmtpd sink standing in for the relay, tracked and DKIM-signed. Logins
before TLS, wrong or stale credentials, oversized messages, rate limits and repeated failures
are refused with their RFC codes."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import smtplib
import ssl
import time
from email.policy import SMTP
from pathlib import Path

import aiosmtplib
import dkim as dkimpy
import pytest
from django.core.cache import cache
from django.test import override_settings
from django.utils import timezone

from mailboxes.constants import SendSource, SendStatus
from mailboxes.models import Outbound
from records.models import Contact
from tests.fakes.dns import FakeDnsServer
from tests.mailboxes.outbox import header
from tests.transactional.api import key
from tests.transactional.pool import dkim_dns, pool_for, txt_value
from tests.transactional.smtp_api import message, start_api_server
from transactional.credentials import services
from transactional.credentials.models import Credential
from transactional.pool import delivery
from transactional.pool import dkim as pool_dkim

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning"),
]


@pytest.fixture
def api(tmp_path):
    cache.clear()  # rate counts and failures of earlier tests
    running = start_api_server(tmp_path)
    yield running
    running.stop()
    cache.clear()


@pytest.fixture
def token(admin_user):
    return services.smtp_token_create("Shop", admin_user, create_contacts=True)


def submit(api, token, mime, *, to_addrs=None) -> smtplib.SMTP:
    with smtplib.SMTP(api.host, api.port, timeout=10) as client:
        client.starttls(context=api.client_tls)
        client.login(token.username, token.password)
        return client.send_message(mime, to_addrs=to_addrs)


def logged_in(api, token) -> smtplib.SMTP:
    client = smtplib.SMTP(api.host, api.port, timeout=10)
    client.starttls(context=api.client_tls)
    client.login(token.username, token.password)
    return client


def third_refused(client: smtplib.SMTP):
    """Two messages sent, the third refused: the refusal."""
    client.send_message(message())
    client.send_message(message())
    with pytest.raises(smtplib.SMTPDataError) as refused:
        client.send_message(message())
    return refused


def test_smtplib_over_starttls_reaches_the_relay_tracked_dkim_signed_bcc_included(
    api, token, smtp_sink
):
    pool = pool_for(smtp_sink, signing=True)
    mime = message(to="Ada <ada@client.test>", cc="bob@client.test")
    mime["Bcc"] = "hidden@client.test"
    refused = submit(
        api, token, mime, to_addrs=["ada@client.test", "bob@client.test", "hidden@client.test"]
    )
    assert refused == {}

    outbound = Outbound.objects.select_related("message").get()
    assert (outbound.source, outbound.source_id) == (SendSource.TRANSACTIONAL, token.credential.pk)
    assert sorted(outbound.recipients) == [
        "ada@client.test",
        "bob@client.test",
        "hidden@client.test",
    ]
    assert outbound.bcc_addrs == ["hidden@client.test"]
    # The token creates a contact for each recipient, one per address.
    assert sorted(Contact.objects.values_list("email", flat=True)) == [
        "ada@client.test",
        "bob@client.test",
        "hidden@client.test",
    ]

    assert sum(delivery.deliver_due(seconds=5).values()) == 1
    (received,) = smtp_sink.messages
    assert sorted(received.rcpt_tos) == sorted(outbound.recipients)
    data = received.data
    assert b"/t/o/" in data and b"/t/c/" in data  # open pixel and click link
    assert header(data, "Bcc") is None
    assert header(data, "Subject") == "Your receipt"
    assert header(data, "Message-ID") == outbound.message.message_id
    assert b"Thanks! Your order: https://shop.test/orders/1" in data  # the text part as written
    with FakeDnsServer() as dns:
        name = pool_dkim.record_name(pool.dkim_selector, pool.domain)
        dns.add(name, "TXT", txt_value(pool_dkim.record_value(pool.dkim_public_key)))
        assert dkimpy.verify(data, dnsfunc=dkim_dns(dns.resolver()))
    outbound.refresh_from_db()
    assert outbound.status == SendStatus.SENT


def test_aiosmtplib_over_implicit_tls_and_auth_login(api, token, smtp_sink):
    pool_for(smtp_sink)

    async def send():
        async with aiosmtplib.SMTP(
            hostname=api.host, port=api.tls_port, use_tls=True, tls_context=api.client_tls
        ) as client:
            await client.ehlo()
            await client.auth_login(token.username, token.password)
            return await client.send_message(message(to="ada@client.test"))

    errors, reply = asyncio.run(send())
    assert errors == {} and reply.startswith("2.0.0 Ok: queued as <")
    queued_id = reply.rsplit(" ", 1)[-1]
    # The 250 names the row the outbox holds.
    assert Outbound.objects.filter(message__message_id=queued_id).exists()
    delivery.deliver_due(seconds=5)
    assert b"/t/c/" in smtp_sink.messages[0].data


def test_implicit_tls_connections_log_no_warning_about_auth_without_tls(api, caplog):
    # aiosmtpd logs "auth_required == True but auth_require_tls == False" for each connection
    # to a server taking AUTH without STARTTLS; on this port TLS comes first.
    caplog.set_level(logging.WARNING, logger="mail.log")
    for _ in range(2):
        with smtplib.SMTP_SSL(api.host, api.tls_port, context=api.client_tls, timeout=10) as c:
            assert c.ehlo()[0] == 250 and "auth" in c.esmtp_features
    with smtplib.SMTP(api.host, api.port, timeout=10) as client:
        client.starttls(context=api.client_tls)
        assert client.ehlo()[0] == 250
    logging.getLogger("mail.log").warning("auth_required == True but auth_require_tls == False")
    # Only the line logged here, by hand, after the server's connections.
    assert [r.getMessage() for r in caplog.records if r.name == "mail.log"] == [
        "auth_required == True but auth_require_tls == False"
    ]


def test_auth_before_tls_is_refused_and_mail_before_auth(api, token):
    with smtplib.SMTP(api.host, api.port, timeout=10) as client:
        client.ehlo()
        assert "starttls" in client.esmtp_features and "auth" not in client.esmtp_features
        code, text = client.docmd("AUTH", "PLAIN AGFkYQBwdw==")
        assert code in (530, 538)
        code, _ = client.docmd("MAIL", "FROM:<a@shop.test>")
        assert code == 530
        client.starttls(context=api.client_tls)
        client.ehlo()
        assert "auth" in client.esmtp_features
        assert int(client.esmtp_features["size"]) > 0
        code, text = client.docmd("MAIL", "FROM:<a@shop.test>")
        assert code == 530 and b"Authentication required" in text


@pytest.mark.parametrize("how", ["wrong password", "deleted", "reset"])
def test_stale_or_wrong_credentials_are_refused(api, token, admin_user, how):
    password = token.password
    if how == "wrong password":
        password = password + "x"
    elif how == "deleted":
        services.credential_revoke(token.credential, admin_user)
    else:
        services.password_reset(token.credential, admin_user)
    with smtplib.SMTP(api.host, api.port, timeout=10) as client:
        client.starttls(context=api.client_tls)
        with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
            client.login(token.username, password)
    assert refused.value.smtp_code == 535
    assert not Outbound.objects.exists()


def test_a_reset_during_a_session_refuses_its_next_message(api, token, admin_user, smtp_sink):
    pool_for(smtp_sink)
    with smtplib.SMTP(api.host, api.port, timeout=10) as client:
        client.starttls(context=api.client_tls)
        client.login(token.username, token.password)
        client.send_message(message())
        services.password_reset(token.credential, admin_user)
        with pytest.raises(smtplib.SMTPDataError) as refused:
            client.send_message(message())
    assert refused.value.smtp_code == 535
    assert Outbound.objects.count() == 1


@override_settings(SMTP_API_MAX_MESSAGE_BYTES=20_000)
def test_a_message_over_the_size_limit_is_refused(tmp_path, token, smtp_sink):
    pool_for(smtp_sink)
    cache.clear()
    api = start_api_server(tmp_path)
    try:
        with smtplib.SMTP(api.host, api.port, timeout=10) as client:
            client.starttls(context=api.client_tls)
            client.ehlo()
            assert client.esmtp_features["size"] == "20000"
            client.login(token.username, token.password)
            big = message(html="<p>" + ("x" * 70 + "\n") * 400 + "</p>")
            with pytest.raises(smtplib.SMTPSenderRefused) as refused:  # SIZE= on MAIL FROM
                client.send_message(big)
            assert refused.value.smtp_code == 552
            code, _ = client.docmd("RSET")
            # A client that does not say SIZE= is stopped at DATA.
            client.mail("receipts@shop.test")
            client.rcpt("ada@client.test")
            code, text = client.data(big.as_bytes(policy=SMTP))
            assert code == 552, text
    finally:
        api.stop()
    assert not Outbound.objects.exists()


@override_settings(SMTP_API_MINUTE_LIMIT=2)
def test_a_token_over_its_rate_limit_is_told_to_try_later(api, token, smtp_sink):
    pool_for(smtp_sink)
    with logged_in(api, token) as client:
        refused = third_refused(client)
    assert refused.value.smtp_code == 451
    assert (
        b"Rate limit" in refused.value.smtp_error
        and b"2 messages a minute" in refused.value.smtp_error
    )
    assert Outbound.objects.count() == 2


@override_settings(SMTP_API_FAILURE_DELAY_MS=150, AXES_FAILURE_LIMIT=3)
def test_repeated_failed_logins_are_slowed_then_locked_out(api, token):
    def attempt(password):
        with smtplib.SMTP(api.host, api.port, timeout=10) as client:
            client.starttls(context=api.client_tls)
            started = time.monotonic()
            try:
                client.login(token.username, password)
            except smtplib.SMTPAuthenticationError as error:
                return error.smtp_code, time.monotonic() - started
            return 235, time.monotonic() - started

    waits = [attempt("wrong")[1] for _ in range(3)]
    # Each failure is answered later than the one before (0.15 s more each time).
    assert waits[0] >= 0.15 and waits[1] >= 0.3 and waits[2] >= 0.45
    # Locked out: even the right password is refused, for a while.
    code, _ = attempt(token.password)
    assert code == 535


def test_the_250_comes_only_after_the_commit(api, token, smtp_sink, django_db_blocker):
    """While another transaction holds the outbox's table, the client hears nothing; once it
    lets go, the 250 arrives and the row is there for anyone to read."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("table locks: PostgreSQL only")
    import psycopg

    pool_for(smtp_sink)
    settings_dict = connection.settings_dict
    blocker = psycopg.connect(
        dbname=settings_dict["NAME"],
        user=settings_dict["USER"],
        host=settings_dict["HOST"],
        port=settings_dict["PORT"] or 5432,
        password=settings_dict["PASSWORD"] or None,
    )
    blocker.execute(f"LOCK TABLE {Outbound._meta.db_table} IN ACCESS EXCLUSIVE MODE")
    result = {}

    async def send():
        async with aiosmtplib.SMTP(
            hostname=api.host, port=api.tls_port, use_tls=True, tls_context=api.client_tls
        ) as client:
            await client.login(token.username, token.password)
            task = asyncio.ensure_future(client.send_message(message()))
            done, _ = await asyncio.wait([task], timeout=1.5)
            result["answered_while_locked"] = bool(done)
            await asyncio.to_thread(blocker.rollback)
            errors, reply = await task
            result["reply"] = reply
            result["row_seen"] = await asyncio.to_thread(
                lambda: Outbound.objects.filter(
                    message__message_id=reply.rsplit(" ", 1)[-1]
                ).exists()
            )

    try:
        asyncio.run(send())
    finally:
        blocker.close()
    assert result["answered_while_locked"] is False
    assert result["reply"].startswith("2.0.0 Ok: queued as")
    assert result["row_seen"]


def test_a_token_made_reset_and_deleted_through_the_http_api_logs_in_accordingly(
    api, client, smtp_sink
):
    """The tokens API end to end with the SMTP API server: the id and password it answers log
    in; after a reset only the new password does; after DELETE nothing does; past its expiry,
    a token made through the API is refused."""
    pool_for(smtp_sink)
    headers = {"HTTP_AUTHORIZATION": f"Bearer {key()}"}
    base = "/marketing/v3/transactional/smtp-tokens"

    def made(campaign):
        body = json.dumps({"campaignName": campaign, "createContact": False})
        answer = client.post(base, body, content_type="application/json", **headers)
        assert answer.status_code == 201
        return answer.json()

    def login(username, password):
        with smtplib.SMTP(api.host, api.port, timeout=10) as smtp:
            smtp.starttls(context=api.client_tls)
            try:
                smtp.login(username, password)
            except smtplib.SMTPAuthenticationError as refused:
                return refused.smtp_code
            smtp.send_message(message())
            return 250

    token = made("Receipts")
    assert login(token["id"], token["password"]) == 250
    reset = client.post(f"{base}/{token['id']}/password-reset", **headers).json()
    assert login(token["id"], token["password"]) == 535
    assert login(token["id"], reset["password"]) == 250
    assert client.delete(f"{base}/{token['id']}", **headers).status_code == 204
    assert login(token["id"], reset["password"]) == 535

    old = made("Old")
    Credential.objects.filter(lookup_id=old["id"]).update(expires_at=timezone.now())
    assert login(old["id"], old["password"]) == 535
    assert Outbound.objects.count() == 2  # the two messages sent while the logins held


def _not_at_a_minutes_end() -> None:
    """Wait out the last seconds of a minute, so a test's messages share one minute window."""
    if time.time() % 60 > 50:
        time.sleep(61 - time.time() % 60)


def test_each_token_meets_its_own_limits_and_an_edit_holds_from_the_next_message(
    api, admin_user, smtp_sink
):
    pool_for(smtp_sink)
    tight = services.smtp_token_create("Tight", admin_user, minute_limit=2)
    hourly = services.smtp_token_create("Hourly", admin_user, hour_limit=1)
    roomy = services.smtp_token_create("Roomy", admin_user)  # the server's 600 a minute
    _not_at_a_minutes_end()
    with logged_in(api, tight) as client:
        refused = third_refused(client)
        assert refused.value.smtp_code == 451
        reply = refused.value.smtp_error.decode()
        assert reply.startswith("4.7.1 Rate limit: this token may send 2 messages a minute;")
        assert re.search(r"try again after \d\d:\d\d UTC$", reply)

        # Meanwhile another token sends as much as it likes.
        for _ in range(5):
            submit(api, roomy, message())

        # An admin raises the limit on the token's page: its next message goes.
        services.limits_change(tight.credential, admin_user, minute_limit=10, hour_limit=None)
        client.send_message(message())

    sent = Outbound.objects.filter(source=SendSource.TRANSACTIONAL)
    assert sent.filter(source_id=tight.credential.pk).count() == 3
    assert sent.filter(source_id=roomy.credential.pk).count() == 5

    # The hour's limit, through aiosmtplib on the implicit TLS port.
    async def twice():
        client = aiosmtplib.SMTP(
            hostname=api.host, port=api.tls_port, use_tls=True, tls_context=api.client_tls
        )
        async with client:
            await client.login(hourly.username, hourly.password)
            await client.send_message(message())
            with pytest.raises(aiosmtplib.SMTPDataError) as refused:
                await client.send_message(message())
        return refused.value

    refused = asyncio.run(twice())
    assert refused.code == 451
    assert "this token may send 1 message an hour;" in refused.message
    assert Outbound.objects.filter(source_id=hourly.credential.pk).count() == 1


def test_several_processes_share_the_ports_and_stop_together(tmp_path, token, smtp_sink):
    """`manage.py smtp_api --processes 2`: two servers on the same ports (SO_REUSEPORT), each
    answering only after the commit; SIGTERM to the first stops both."""
    import os
    import signal
    import subprocess
    import sys

    from django.db import connection

    from tests.integration.servers import free_port, wait_for_port
    from transactional.smtp import tls

    if connection.vendor != "postgresql":
        pytest.skip("one process on SQLite")
    pool_for(smtp_sink)
    cert, key = tls.self_signed(tmp_path)
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "crm_mail.settings",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:"
        f"{db['PORT'] or 5432}/{db['NAME']}",
        "CRM_SMTP_API_CERT_FILE": str(cert),
        "CRM_SMTP_API_KEY_FILE": str(key),
    }
    port, tls_port = free_port(), free_port()
    command = [sys.executable, "manage.py", "smtp_api", "--host", "127.0.0.1", "--port"]
    command += [str(port), "--tls-port", str(tls_port), "--processes", "2"]
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    try:
        wait_for_port(tls_port, server, timeout=30)
        children = Path(f"/proc/{server.pid}/task/{server.pid}/children")
        deadline = time.monotonic() + 10
        while not children.read_text().split() and time.monotonic() < deadline:
            time.sleep(0.1)
        (child,) = children.read_text().split()
        client_tls = ssl.create_default_context(cafile=cert)

        async def send(n):
            async with aiosmtplib.SMTP(
                hostname="127.0.0.1", port=tls_port, use_tls=True, tls_context=client_tls
            ) as client:
                await client.login(token.username, token.password)
                return await client.send_message(message(to=f"buyer{n}@client.test"))

        async def all_of_them():
            return await asyncio.gather(*(send(n) for n in range(12)))

        replies = [reply for _errors, reply in asyncio.run(all_of_them())]
        ids = [reply.rsplit(" ", 1)[-1] for reply in replies]
        assert all(r.startswith("2.0.0 Ok: queued as <") for r in replies)
        assert Outbound.objects.filter(message__message_id__in=ids).count() == 12
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
        assert (
            not Path(f"/proc/{child}").exists()
            or "Z" in Path(f"/proc/{child}/stat").read_text().split()[2]
        )
    finally:
        if server.poll() is None:
            server.kill()
