"""Drive ImapSmtpProvider against a real Dovecot and a real aiosmtpd sink."""

from __future__ import annotations

import asyncio
import dataclasses
import pickle
import time
import warnings

import pytest

from mailboxes.providers import get_provider
from mailboxes.providers.base import ConnectionSettings, OutgoingMessage, ProviderError
from mailboxes.providers.imap_smtp import BURST_SECONDS, ImapSmtpProvider
from tests.integration.flaky_proxy import CuttingProxy
from tests.integration.servers import free_port
from tests.servers import CORPUS_DIR, server_missing

pytestmark = [
    pytest.mark.integration,
    # The sink requires AUTH over plain text on loopback; aiosmtpd warns about that.
    pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning"),
]

CORPUS = CORPUS_DIR
# Odd encodings picked for what each exercises, with the subject a reader should see.
ODD_SUBJECTS = {
    "encodings/mmp__headers_encoded-headers.eml": "¡Hola, señor!",
    "encodings/mmp__headers_invalid-charset.eml": "TEST ¡Hola, señor!",
    "encodings/mimekit__messages_japanese.eml": "日本語メールテスト (testing Japanese emails)",
    "encodings/rubymail__rfc6532_utf8_headers.eml": "Säying Hello",
    "encodings/rubymail__plain_emails_raw_email_with_partially_quoted_subject.eml": (
        'Re: Test: "漢字" mid "漢字" tail'
    ),
    "encodings/rubymail__error_emails_invalid_subject_characters.eml": (
        "Formação FrenetikPolis: Mega Campanha Final Verão | Cursos de Setembro"
    ),
    "malformed/rubymail__error_emails_bad_encoded_subject.eml": "TEST",
    "malformed/mimekit__messages_stack-overflow.eml": "Message Subject",
}


def corpus_file(relative: str) -> bytes:
    path = CORPUS / relative
    if not path.exists():
        server_missing(f"mail corpus file {path} (set MAIL_CORPUS_DIR)")
    return path.read_bytes()


def message(message_id: str, subject: str = "Hello", body: str = "Hi there.") -> bytes:
    """Return a small CRLF message, the form servers store and serve unchanged."""
    return (
        f"From: Ana Lopez <ana@example.test>\r\n"
        f"To: bob@example.test\r\n"
        f"Subject: {subject}\r\n"
        f"Date: Tue, 03 Mar 2026 10:00:00 +0100\r\n"
        f"Message-ID: {message_id}\r\n"
        f"\r\n"
        f"{body}\r\n"
    ).encode()


@pytest.fixture
def settings(dovecot, smtp_sink) -> ConnectionSettings:
    return ConnectionSettings(
        email=dovecot.email,
        username=dovecot.user,
        password=dovecot.password,
        imap_host=dovecot.host,
        imap_port=dovecot.port,
        imap_security="none",
        smtp_host=smtp_sink.host,
        smtp_port=smtp_sink.port,
        smtp_security="none",
        smtp_username=smtp_sink.user,
        smtp_password=smtp_sink.password,
        timeout=5,
    )


@pytest.fixture
def provider(settings):
    with get_provider("imap", settings) as provider:
        yield provider


def verify_error(settings: ConnectionSettings, **changes) -> ProviderError:
    with ImapSmtpProvider(dataclasses.replace(settings, **changes)) as provider:
        with pytest.raises(ProviderError) as caught:
            provider.verify()
    return caught.value


# -- verify ------------------------------------------------------------------------------


def test_verify_logs_in_to_both_servers_and_sends_nothing(provider, smtp_sink):
    provider.verify()

    assert smtp_sink.messages == []


def test_verify_accepts_non_ascii_imap_password(settings, dovecot_server):
    account = dovecot_server.add_account(password="pässwörd-€")
    settings = dataclasses.replace(settings, username=account.user, password=account.password)

    with ImapSmtpProvider(settings) as provider:
        provider.verify()


def test_verify_reports_wrong_imap_password_as_permanent_auth_error(settings):
    error = verify_error(settings, password="not-the-password")

    assert (error.stage, error.permanent) == ("auth", True)
    assert "username or password" in error.message
    assert "b'" not in error.message


def test_verify_reports_wrong_smtp_password_as_auth_error(settings):
    error = verify_error(settings, smtp_password="not-the-password")

    assert (error.stage, error.permanent, error.code) == ("auth", True, 535)


def test_verify_reports_closed_port_as_tcp(settings):
    error = verify_error(settings, imap_port=free_port())

    assert (error.stage, error.permanent) == ("tcp", False)


def test_verify_reports_non_imap_server_as_protocol(settings, smtp_sink):
    error = verify_error(settings, imap_port=smtp_sink.port)

    assert error.stage == "protocol"
    assert "IMAP" in error.message


def test_verify_reports_non_smtp_server_as_protocol(settings, dovecot):
    error = verify_error(settings, smtp_port=dovecot.port)

    assert error.stage == "protocol"


def test_verify_reports_unresolvable_host_as_dns(settings):
    # .invalid never resolves (RFC 2606), so this needs no network.
    error = verify_error(settings, imap_host="imap.nowhere.invalid")

    assert error.stage == "dns"
    assert "imap.nowhere.invalid" in error.message


def test_verify_reports_tls_on_plain_port_as_tls(settings):
    error = verify_error(settings, imap_security="ssl")

    assert error.stage == "tls"


def test_verify_reports_missing_starttls_as_permanent_tls(settings):
    error = verify_error(settings, smtp_security="starttls")

    assert (error.stage, error.permanent) == ("tls", True)
    assert "STARTTLS" in error.message


def test_verify_refuses_untrusted_certificate_as_permanent_tls(settings, smtp_tls_sink):
    error = verify_error(
        settings,
        smtp_port=smtp_tls_sink.port,
        smtp_security="starttls",
        smtp_password=smtp_tls_sink.password,
    )

    assert (error.stage, error.permanent) == ("tls", True)
    assert "trust any certificate" in error.message


def test_trust_any_certificate_sends_over_starttls(settings, smtp_tls_sink):
    tls_settings = dataclasses.replace(
        settings,
        smtp_port=smtp_tls_sink.port,
        smtp_security="starttls",
        smtp_password=smtp_tls_sink.password,
        trust_any_certificate=True,
    )
    with ImapSmtpProvider(tls_settings) as provider:
        provider.verify()
        provider.send(outgoing("bob@example.test"))

    (received,) = smtp_tls_sink.messages
    assert received.tls
    assert received.login == smtp_tls_sink.user


# -- folders -----------------------------------------------------------------------------


def test_list_folders_finds_inbox_and_sent_by_special_use(provider, dovecot):
    dovecot.create_folder("Sent")
    dovecot.create_folder("Projects")

    roles = {folder.name: folder.role for folder in provider.list_folders()}

    assert roles == {"INBOX": "inbox", "Sent": "sent", "Projects": None}


def test_list_folders_falls_back_to_well_known_names(provider, dovecot):
    # Only "Sent" etc. carry SPECIAL-USE in the fixture's config; these are found by name.
    dovecot.create_folder("Sent Messages")
    dovecot.create_folder("Deleted Items")

    roles = {folder.name: folder.role for folder in provider.list_folders()}

    assert roles["Sent Messages"] == "sent"
    assert roles["Deleted Items"] == "trash"


def test_folder_state_tracks_new_mail_and_modseq(provider, dovecot):
    dovecot.deliver(message("<a@example.test>"))
    dovecot.deliver(message("<b@example.test>"))

    before = provider.folder_state("INBOX")
    dovecot.deliver(message("<c@example.test>"))
    after = provider.folder_state("INBOX")

    assert before.uidvalidity > 0
    assert (before.uidnext, after.uidnext) == (3, 4)
    assert after.uidvalidity == before.uidvalidity
    assert before.highestmodseq is not None
    assert after.highestmodseq > before.highestmodseq


def test_folder_state_shows_new_uidvalidity_after_mailbox_rebuild(settings, dovecot):
    dovecot.deliver(message("<a@example.test>"))
    with ImapSmtpProvider(settings) as provider:
        before = provider.folder_state("INBOX")

    dovecot.bump_uidvalidity("INBOX")
    with ImapSmtpProvider(settings) as provider:
        after = provider.folder_state("INBOX")

    assert after.uidvalidity != before.uidvalidity


# -- fetching ----------------------------------------------------------------------------


def test_fetch_headers_decodes_odd_encodings_without_raising(provider, dovecot):
    names = list(ODD_SUBJECTS)
    for name in names:
        dovecot.deliver(corpus_file(name))
    extra = sorted((CORPUS / "encodings").glob("*.eml")) + sorted(
        (CORPUS / "malformed").glob("*.eml")
    )
    for path in extra:
        dovecot.deliver(path.read_bytes())

    headers = provider.fetch_headers("INBOX", 1, 1000)

    assert len(headers) == len(names) + len(extra)
    for header in headers:
        assert isinstance(header.subject, str) and "\x00" not in header.subject
        assert all(isinstance(a, str) for a in (header.from_addr, *header.to_addrs))
        assert header.date is None or header.date.tzinfo is not None
    assert [h.subject for h in headers[: len(names)]] == list(ODD_SUBJECTS.values())


def test_fetch_headers_pages_by_uid(provider, dovecot):
    for n in range(1, 8):
        dovecot.deliver(message(f"<m{n}@example.test>", subject=f"Number {n}"))

    first = provider.fetch_headers("INBOX", 1, 3)
    rest = provider.fetch_headers("INBOX", int(first[-1].ref) + 1, 100)
    beyond = provider.fetch_headers("INBOX", 100, 10)

    assert [h.ref for h in first] == ["1", "2", "3"]
    assert [h.subject for h in rest] == [f"Number {n}" for n in range(4, 8)]
    # "UID 100:*" still matches the highest message; it must not come back.
    assert beyond == []


def test_fetch_headers_reads_threading_and_address_fields(provider, dovecot):
    dovecot.deliver(
        b"From: =?utf-8?q?Jos=C3=A9_P=C3=A9rez?= <jose@example.test>\r\n"
        b'To: a@example.test, "Doe, Jane" <jane@example.test>\r\n'
        b"Cc: c@example.test\r\n"
        b"Subject: Re: plan\r\n"
        b"Message-ID: <reply@example.test>\r\n"
        b"In-Reply-To: <root@example.test> (Ana's message)\r\n"
        b"References: <root@example.test>\r\n <mid@example.test>\r\n"
        b"\r\n"
        b"ok\r\n"
    )

    (header,) = provider.fetch_headers("INBOX", 1, 10)

    assert header.message_id == "<reply@example.test>"
    assert header.in_reply_to == "<root@example.test>"
    assert header.references == ("<root@example.test>", "<mid@example.test>")
    assert (header.from_addr, header.from_name) == ("jose@example.test", "José Pérez")
    assert header.to_addrs == ("a@example.test", "jane@example.test")
    assert header.cc_addrs == ("c@example.test",)
    assert "\\Seen" not in header.flags


def test_fetch_raw_returns_exact_bytes_and_leaves_messages_unseen(provider, dovecot):
    # Dovecot serves stored LF line endings as CRLF, as IMAP requires, so store CRLF.
    corpus = corpus_file("encodings/mmp__headers_encoded-headers.eml")
    originals = [
        message("<one@example.test>", body="caf\xe9 \u2603 line"),
        corpus.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"),
    ]
    for raw in originals:
        dovecot.deliver(raw)

    fetched = provider.fetch_raw("INBOX", ["2", "1", "99"])

    assert [(m.ref, m.raw) for m in fetched] == [("1", originals[0]), ("2", originals[1])]
    with dovecot.imap() as client:
        client.select_folder("INBOX", readonly=True)
        flags = client.get_flags([1, 2])
    assert all(b"\\Seen" not in f for f in flags.values())


# -- searching and appending -------------------------------------------------------------


def test_find_by_message_id_matches_exactly(provider, dovecot):
    dovecot.deliver(message("<xabc@example.test>"))
    dovecot.deliver(message("<abc@example.test>"))

    # SEARCH HEADER matches substrings, so UID 1 is a candidate that must be rejected.
    assert provider.find_by_message_id("INBOX", "<abc@example.test>") == "2"
    assert provider.find_by_message_id("INBOX", "abc@example.test") == "2"
    assert provider.find_by_message_id("INBOX", "<missing@example.test>") is None


def test_append_to_sent_then_find_by_message_id(provider, dovecot):
    dovecot.create_folder("Sent")
    raw = message("<sent-1@example.test>", subject="Proposal")

    uid = provider.append("Sent", raw, ("\\Seen",))

    assert uid is not None
    assert provider.find_by_message_id("Sent", "<sent-1@example.test>") == uid
    (stored,) = provider.fetch_raw("Sent", [uid])
    assert stored.raw == raw
    (header,) = provider.fetch_headers("Sent", int(uid), 1)
    assert "\\Seen" in header.flags


def test_folder_errors_are_reported_as_protocol(provider):
    with pytest.raises(ProviderError) as caught:
        provider.folder_state("No Such Folder")

    assert (caught.value.stage, caught.value.permanent) == ("protocol", True)
    # The session stays usable after a refused command.
    assert provider.folder_state("INBOX").uidnext == 1


# -- sending -----------------------------------------------------------------------------


def outgoing(*recipients: str, message_id: str = "<out-1@example.test>") -> OutgoingMessage:
    return OutgoingMessage(
        envelope_from="ana@example.test",
        recipients=list(recipients),
        raw=message(message_id),
        message_id=message_id,
    )


def test_send_delivers_once_with_auth(provider, smtp_sink):
    result = provider.send(outgoing("bob@example.test", "carol@example.test"))

    (received,) = smtp_sink.messages
    assert received.login == smtp_sink.user
    assert received.mail_from == "ana@example.test"
    assert received.rcpt_tos == ["bob@example.test", "carol@example.test"]
    assert received.data == message("<out-1@example.test>")
    assert result.accepted_recipients == ["bob@example.test", "carol@example.test"]
    assert result.refused == {}
    assert result.provider_id == "Q1"


def test_send_reuses_one_smtp_session(provider, smtp_sink):
    provider.send(outgoing("bob@example.test", message_id="<a@example.test>"))
    provider.send(outgoing("bob@example.test", message_id="<b@example.test>"))

    assert len(smtp_sink.messages) == 2
    assert smtp_sink.sessions == 1


@pytest.mark.timeout(60)
def test_send_replaces_a_session_the_server_closed_while_idle(settings, smtp_sink):
    proxy = CuttingProxy(smtp_sink.host, smtp_sink.port)
    try:
        with ImapSmtpProvider(dataclasses.replace(settings, smtp_port=proxy.port)) as provider:
            provider.send(outgoing("bob@example.test", message_id="<a@example.test>"))
            proxy.cut_all()
            # Idle for longer than a burst of sends, so the next send looks at the session.
            time.sleep(BURST_SECONDS + 0.1)
            provider.send(outgoing("bob@example.test", message_id="<b@example.test>"))
    finally:
        proxy.close()

    assert len(smtp_sink.messages) == 2
    assert smtp_sink.sessions == 2


def test_close_from_inside_a_running_event_loop_still_quits_smtp(settings, smtp_sink):
    # E.g. a worker pass ended on a thread that runs an event loop (Playwright's in tests).
    provider = ImapSmtpProvider(settings)
    provider.send(outgoing("bob@example.test"))

    async def close_inside_a_loop():
        provider.close()

    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no coroutine left never awaited
        asyncio.run(close_inside_a_loop())

    assert smtp_sink.handler.quits == 1


def test_send_classifies_4xx_refusal_as_temporary(provider, smtp_sink):
    smtp_sink.refuse("bob@example.test", "450 4.2.1 Mailbox busy, try later")

    with pytest.raises(ProviderError) as caught:
        provider.send(outgoing("bob@example.test"))

    error = caught.value
    assert (error.permanent, error.code) == (False, 450)
    assert error.retry_after and error.retry_after > 0
    assert smtp_sink.messages == []


def test_send_classifies_5xx_refusal_as_permanent(provider, smtp_sink):
    smtp_sink.refuse("bob@example.test", "550 5.1.1 No such user")

    with pytest.raises(ProviderError) as caught:
        provider.send(outgoing("bob@example.test"))

    assert (caught.value.permanent, caught.value.code) == (True, 550)
    assert "5.1.1" in caught.value.message
    assert smtp_sink.messages == []


def test_send_reports_partly_refused_recipients(provider, smtp_sink):
    smtp_sink.refuse("carol@example.test", "550 5.1.1 No such user")

    result = provider.send(outgoing("bob@example.test", "carol@example.test"))

    assert result.accepted_recipients == ["bob@example.test"]
    assert result.refused == {"carol@example.test": (550, "5.1.1 No such user")}
    assert [m.rcpt_tos for m in smtp_sink.messages] == [["bob@example.test"]]


def test_send_refuses_line_breaks_in_envelope(provider, smtp_sink):
    with pytest.raises(ProviderError) as caught:
        provider.send(outgoing("bob@example.test\r\nRCPT TO:<eve@example.test>"))

    assert caught.value.permanent
    assert smtp_sink.messages == []


# -- value types -------------------------------------------------------------------------


def test_connection_settings_repr_hides_passwords(settings):
    text = repr(settings)

    assert settings.password not in text
    assert settings.smtp_password not in text


def test_provider_error_keeps_its_classification_across_processes():
    error = ProviderError("busy", stage="other", permanent=False, retry_after=300.0, code=450)

    copy = pickle.loads(pickle.dumps(error))

    assert (copy.message, copy.stage, copy.permanent, copy.retry_after, copy.code) == (
        "busy",
        "other",
        False,
        300.0,
        450,
    )


def test_changes_pages_through_new_mail_and_resumes_from_the_cursor(provider, dovecot):
    for i in range(5):
        dovecot.deliver(message(f"<c{i}@example.test>"))
    first = provider.changes("INBOX", "", 3)
    assert [h.message_id for h in first.headers] == [f"<c{i}@example.test>" for i in range(3)]
    assert first.more and not first.reset
    second = provider.changes("INBOX", first.cursor, 3)
    assert [h.message_id for h in second.headers] == ["<c3@example.test>", "<c4@example.test>"]
    assert not second.more
    assert provider.changes("INBOX", second.cursor, 3).headers == []
    dovecot.deliver(message("<c5@example.test>"))
    later = provider.changes("INBOX", second.cursor, 3)
    assert [h.message_id for h in later.headers] == ["<c5@example.test>"]


def test_changes_start_over_when_uidvalidity_changes(provider, dovecot):
    dovecot.deliver(message("<v1@example.test>"))
    page = provider.changes("INBOX", "", 10)
    provider.close()
    dovecot.bump_uidvalidity("INBOX")
    again = provider.changes("INBOX", page.cursor, 10)
    assert again.reset
    assert [h.message_id for h in again.headers] == ["<v1@example.test>"]
