"""Drive EwsProvider (exchangelib) against a fake Exchange server over HTTPS.

Autodiscover tests add a fake DNS server that exchangelib's resolver asks, and route the
names it finds to the fake's port (see tests/fakes/ews.py).
"""

from __future__ import annotations

import dataclasses
import logging

import pytest
from exchangelib.autodiscover import Autodiscovery
from exchangelib.errors import AutoDiscoverFailed, TransportError

from mailboxes.providers.base import OutgoingMessage, ProviderError
from mailboxes.providers.ews import EwsProvider, EwsSettings
from mailboxes.providers.ews_urls import (
    AUTODISCOVER_PATH,
    autodiscover_candidates,
    ews_url_from_webmail,
)
from tests.fakes.dns import FakeDnsServer
from tests.fakes.ews import (
    isolate_exchangelib,
    make_certificate,
    reset_exchangelib,
    route_hosts,
    start_fake_exchange,
    start_web_server,
    stop_fake_exchange,
    use_fake_dns,
)
from tests.integration.servers import free_port
from tests.servers import CORPUS_DIR, server_missing

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning"),
]

EMAIL = "ana@example.test"
PASSWORD = "correct horse battery"
DISCOVERED_EWS_URL = "https://mail.example.test/EWS/Exchange.asmx"
HOSTNAMES = ["mail.example.test", "autodiscover.example.test", "website.test"]
# A small thread from the corpus, oldest first: root, child, grand-child, plus two replies
# from other threads with long References and a Cc.
THREAD = [
    "threading/notmuch__threading_ghost-root_real-root.eml",
    "threading/notmuch__threading_ghost-root_child.eml",
    "threading/notmuch__threading_ghost-root_grand-child.eml",
    "threading/rubymail__plain_emails_raw_email_reply.eml",
    "threading/notmuch__lkml_cur_1382298793.003145_2.eml",
]


def corpus_file(relative: str) -> bytes:
    path = CORPUS_DIR / relative
    if not path.exists():
        server_missing(f"mail corpus file {path}")
    return path.read_bytes()


def message(message_id: str, to: str = "bob@example.test") -> bytes:
    return (
        f"From: Ana Lopez <{EMAIL}>\r\n"
        f"To: {to}\r\n"
        "Subject: Quote for the renewal\r\n"
        "Date: Tue, 03 Mar 2026 10:00:00 +0100\r\n"
        f"Message-ID: {message_id}\r\n"
        "\r\n"
        "Here is the quote.\r\n"
    ).encode()


def sync_all(provider: EwsProvider, folder: str, cursor: str, limit: int) -> tuple[list, str]:
    """Page through changes until the server says there is no more."""
    headers = []
    for _ in range(50):
        page = provider.changes(folder, cursor, limit)
        headers.extend(page.headers)
        cursor = page.cursor
        if not page.more:
            return headers, cursor
    raise AssertionError("sync never finished")


@pytest.fixture(autouse=True)
def quiet_exchangelib():
    """Keep exchangelib's error logs (full request dumps) out of the test output."""
    logger = logging.getLogger("exchangelib")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    yield
    logger.setLevel(level)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    return make_certificate(tmp_path_factory.mktemp("ews-tls"), HOSTNAMES)


@pytest.fixture
def exchange(certificate, monkeypatch, tmp_path):
    """Start a fake Exchange whose certificate clients trust (through REQUESTS_CA_BUNDLE)."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(certificate.ca_path))
    isolate_exchangelib(monkeypatch, tmp_path)
    fake = start_fake_exchange(certificate.context)
    yield fake
    stop_fake_exchange(fake)
    reset_exchangelib()


@pytest.fixture
def mailbox(exchange):
    return exchange.add_mailbox(EMAIL, password=PASSWORD)


@pytest.fixture
def settings(exchange, mailbox) -> EwsSettings:
    return EwsSettings(email=EMAIL, password=PASSWORD, ews_url=exchange.url, timeout=5)


@pytest.fixture
def provider(settings):
    with EwsProvider(settings) as provider:
        yield provider


@pytest.fixture
def fake_dns(exchange, monkeypatch):
    """Publish autodiscover.example.test and mail.example.test, both served by the fake."""
    with FakeDnsServer() as dns_server:
        for name in ("autodiscover.example.test", "mail.example.test"):
            dns_server.add(name, "A", "127.0.0.1")
        use_fake_dns(monkeypatch, dns_server)
        route_hosts(
            monkeypatch,
            {
                "autodiscover.example.test": exchange.server.port,
                "mail.example.test": exchange.server.port,
            },
        )
        exchange.ews_url = DISCOVERED_EWS_URL
        yield dns_server


def discovering(settings: EwsSettings, **changes) -> EwsProvider:
    return EwsProvider(dataclasses.replace(settings, ews_url="", **changes))


def failure(provider: EwsProvider) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        provider.verify()
    return caught.value


# -- settings -------------------------------------------------------------------------------


def test_settings_keep_the_password_out_of_repr():
    settings = EwsSettings(email=EMAIL, password="hunter2-secret")
    assert "hunter2-secret" not in repr(settings)
    assert settings.login == EMAIL


def test_settings_refuse_an_unknown_auth_type():
    with pytest.raises(ValueError):
        EwsSettings(email=EMAIL, password="x", auth_type="kerberos")


# -- verify --------------------------------------------------------------------------------


def test_verify_with_ews_url_logs_in_and_lists_the_inbox(provider, exchange, settings):
    provider.verify()

    assert provider.ews_url == settings.ews_url
    assert provider.auth_type == "basic"
    operations = exchange.operations()
    assert operations[0] == "ConvertId"  # exchangelib's version probe
    assert {"GetFolder", "FindItem"} <= set(operations)
    assert [f.role for f in provider.list_folders()] == ["inbox", "sent"]


def test_verify_autodiscovers_the_ews_url(exchange, settings, fake_dns):
    with discovering(settings) as provider:
        provider.verify()
        assert provider.ews_url == DISCOVERED_EWS_URL

    assert fake_dns.queried("A")[:2] == ["example.test", "autodiscover.example.test"]
    hosts = {(seen.host, seen.operation) for seen in exchange.seen if seen.authenticated}
    assert ("autodiscover.example.test", "GetUserSettings") in hosts
    assert ("mail.example.test", "FindItem") in hosts


def test_a_stored_ews_url_skips_autodiscover(exchange, settings, fake_dns):
    with discovering(settings) as provider:
        provider.verify()
        stored = provider.ews_url
    exchange.seen.clear()

    with EwsProvider(dataclasses.replace(settings, ews_url=stored)) as provider:
        provider.verify()

    assert "GetUserSettings" not in exchange.operations()


def test_wrong_password_is_an_auth_error(exchange, settings):
    error = failure(EwsProvider(dataclasses.replace(settings, password="wrong")))

    assert error.stage == "auth"
    assert error.permanent


def test_wrong_password_during_autodiscover_is_an_auth_error(exchange, settings, fake_dns):
    error = failure(discovering(settings, password="wrong"))

    assert error.stage == "auth"


def test_closed_port_is_a_tcp_error(settings):
    url = f"https://127.0.0.1:{free_port()}/EWS/Exchange.asmx"
    error = failure(EwsProvider(dataclasses.replace(settings, ews_url=url)))

    assert error.stage == "tcp"
    assert "refused" in error.message


def test_unknown_host_is_a_dns_error(settings, monkeypatch):
    route_hosts(monkeypatch, {})
    url = "https://mail.nowhere.invalid/EWS/Exchange.asmx"
    error = failure(EwsProvider(dataclasses.replace(settings, ews_url=url)))

    assert error.stage == "dns"
    assert "mail.nowhere.invalid" in error.message


def test_untrusted_certificate_is_a_tls_error(settings, monkeypatch):
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")
    error = failure(EwsProvider(settings))

    assert error.stage == "tls"
    assert "trust any certificate" in error.message


def test_trust_any_certificate_applies_to_that_inbox_only(settings, monkeypatch):
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")
    with EwsProvider(dataclasses.replace(settings, trust_any_certificate=True)) as trusting:
        trusting.verify()
        # Same URL and login, so exchangelib shares the protocol and its sessions: the
        # verification mode must still follow the inbox making the call.
        error = failure(EwsProvider(settings))
        trusting.list_folders()

    assert error.stage == "tls"


@pytest.mark.parametrize("status", [404, 200])
def test_a_web_server_that_is_not_ews_is_a_protocol_error(certificate, settings, status):
    web = start_web_server(certificate.context, status=status)
    try:
        url = f"{web.base_url}/EWS/Exchange.asmx"
        error = failure(EwsProvider(dataclasses.replace(settings, ews_url=url)))
    finally:
        web.stop()

    assert error.stage == "protocol"
    assert error.permanent
    assert "does not answer like Exchange Web Services" in error.message


def test_autodiscover_without_dns_names_is_a_dns_error(exchange, fake_dns):
    exchange.add_mailbox("ana@nowhere.test", password=PASSWORD)
    error = failure(EwsProvider(EwsSettings(email="ana@nowhere.test", password=PASSWORD)))

    assert error.stage == "dns"
    assert "Fill in the EWS URL" in error.message
    assert "autodiscover.nowhere.test" in fake_dns.queried("A")
    assert "_autodiscover._tcp.nowhere.test" in fake_dns.queried("SRV")


def test_autodiscover_on_a_website_asks_for_the_ews_url(
    certificate, exchange, fake_dns, monkeypatch
):
    web = start_web_server(certificate.context, status=404)
    try:
        fake_dns.add("website.test", "A", "127.0.0.1")
        route_hosts(monkeypatch, {"website.test": web.port})
        error = failure(EwsProvider(EwsSettings(email="ana@website.test", password=PASSWORD)))
    finally:
        web.stop()

    assert error.stage == "protocol"
    assert "Fill in the EWS URL" in error.message


def test_autodiscover_error_code_asks_for_the_ews_url(exchange, settings, fake_dns):
    exchange.autodiscover_error = "InvalidDomain"
    error = failure(discovering(settings))

    assert error.stage == "protocol"
    assert "InvalidDomain" in error.message
    assert "Fill in the EWS URL" in error.message


# -- EWS URL suggestions ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pasted", "expected"),
    [
        ("https://mail.example.com/owa/", "https://mail.example.com/EWS/Exchange.asmx"),
        ("https://mail.example.com/owa/#path=/mail", "https://mail.example.com/EWS/Exchange.asmx"),
        (
            "http://webmail.example.com/OWA/auth/logon.aspx?replaceCurrent=1&url="
            "http%3a%2f%2fwebmail.example.com%2fowa%2f",
            "https://webmail.example.com/EWS/Exchange.asmx",
        ),
        ("mail.example.com", "https://mail.example.com/EWS/Exchange.asmx"),
        (
            "  https://Mail.Example.COM:8443/owa  ",
            "https://mail.example.com:8443/EWS/Exchange.asmx",
        ),
        ("http://webmail.example.com:8080/owa", "https://webmail.example.com/EWS/Exchange.asmx"),
        (
            "https://mail.example.com/ews/exchange.asmx",
            "https://mail.example.com/EWS/Exchange.asmx",
        ),
        ("exchange01/owa", "https://exchange01/EWS/Exchange.asmx"),
        ("https://pöstä.example/owa", "https://xn--pst-sla1g.example/EWS/Exchange.asmx"),
        ("https://outlook.office365.com/mail/", "https://outlook.office365.com/EWS/Exchange.asmx"),
        ("jdoe@example.com", None),
        ("", None),
        ("my webmail", None),
        ("ftp://mail.example.com/owa", None),
        ("https://-bad-.example.com/owa", None),
        ("https://mail.example.com:99999/owa", None),
    ],
)
def test_ews_url_from_webmail(pasted, expected):
    assert ews_url_from_webmail(pasted) == expected


def test_autodiscover_candidates_follow_exchangelib(monkeypatch, tmp_path):
    """Record where exchangelib's own Autodiscovery looks, with every step failing."""
    tried = []

    def attempt(self, url):
        tried.append(url)
        return False, None

    def get_unauthenticated(self, url, method="post"):
        tried.append(url)
        raise TransportError("no answer")

    def srv_records(self, hostname):
        tried.append(hostname)
        return []

    isolate_exchangelib(monkeypatch, tmp_path)
    monkeypatch.setattr(Autodiscovery, "_attempt_response", attempt)
    monkeypatch.setattr(Autodiscovery, "_get_unauthenticated_response", get_unauthenticated)
    monkeypatch.setattr(Autodiscovery, "_get_srv_records", srv_records)
    with pytest.raises(AutoDiscoverFailed):
        Autodiscovery(email="jo@example.com").discover()

    steps = autodiscover_candidates("Jo@Example.COM")
    assert [s.target for s in steps] == tried
    assert AUTODISCOVER_PATH.lstrip("/") == Autodiscovery.URL_PATH


# -- sync ------------------------------------------------------------------------------------


def test_initial_sync_pages_with_the_sync_state(provider, mailbox):
    raws = [corpus_file(name) for name in THREAD]
    refs = [mailbox.deliver(raw) for raw in raws]

    pages = []
    cursor = ""
    for _ in range(3):
        page = provider.changes("Inbox", cursor, 2)
        pages.append(page)
        assert page.cursor != cursor and not page.reset
        cursor = page.cursor

    assert [len(p.headers) for p in pages] == [2, 2, 1]
    assert [p.more for p in pages] == [True, True, False]
    assert [h.ref for p in pages for h in p.headers] == refs
    grand_child = pages[1].headers[0]
    assert grand_child.message_id == "<001-grand-child@example.org>"
    assert grand_child.in_reply_to == "<001-child@example.org>"
    assert grand_child.references == ("<000-real-root@example.org>", "<001-child@example.org>")
    assert (grand_child.from_addr, grand_child.from_name) == ("alice@example.org", "Alice")
    assert grand_child.to_addrs == ("daniel@example.org",)
    assert grand_child.subject == "grand-child message"
    assert grand_child.date.isoformat() == "2016-06-18T02:24:41+00:00"
    assert grand_child.size == len(raws[2])
    assert b"In-Reply-To: <001-child@example.org>\r\n" in grand_child.raw_headers
    lkml = pages[2].headers[0]
    assert lkml.cc_addrs == (
        "trivial@kernel.org",
        "akpm@linux-foundation.org",
        "florian@mickler.org",
        "alsa-devel@alsa-project.org",
        "linux-kernel@vger.kernel.org",
    )
    # A folded References header with eleven ids comes through whole.
    assert len(lkml.references) == 11
    assert lkml.references[-1] == "<20101116104921.GL12986@rakim.wolfsonmicro.main>"


def test_incremental_sync_reports_arrivals_and_deletions(provider, mailbox):
    refs = [mailbox.deliver(corpus_file(name)) for name in THREAD[:3]]
    _, cursor = sync_all(provider, "Inbox", "", 10)
    assert provider.changes("Inbox", cursor, 10).headers == []

    new_ref = mailbox.deliver(message("<new-1@example.test>"))
    mailbox.delete(refs[0])
    page = provider.changes("Inbox", cursor, 10)

    assert [h.ref for h in page.headers] == [new_ref]
    assert page.headers[0].message_id == "<new-1@example.test>"
    assert page.deleted == (refs[0],)
    assert not page.more and not page.reset


def test_sync_reports_edits_again_and_ignores_read_flags(provider, mailbox):
    read, edited = (mailbox.deliver(message(f"<m{n}@example.test>")) for n in (1, 2))
    _, cursor = sync_all(provider, "Inbox", "", 10)

    mailbox.mark_read(read)
    mailbox.touch(edited)
    page = provider.changes("Inbox", cursor, 10)

    assert [h.ref for h in page.headers] == [edited]
    assert page.deleted == ()


def test_invalid_sync_state_resets_without_losing_messages(provider, mailbox):
    for name in THREAD[:4]:
        mailbox.deliver(corpus_file(name))
    first, cursor = sync_all(provider, "Inbox", "", 10)
    mailbox.deliver(corpus_file(THREAD[4]))
    mailbox.invalidate_sync_states("inbox")

    page = provider.changes("Inbox", cursor, 3)
    rest, _ = sync_all(provider, "Inbox", page.cursor, 3)

    assert page.reset and page.more
    expected = {h.message_id for h in first} | {"<1289919077.28741.50.camel@Joe-Laptop>"}
    assert {h.message_id for h in page.headers + rest} == expected


def test_an_unreadable_cursor_starts_over(provider, mailbox):
    mailbox.deliver(message("<only@example.test>"))

    page = provider.changes("Inbox", "imap:v1:1:2:3", 10)

    assert page.reset
    assert [h.message_id for h in page.headers] == ["<only@example.test>"]


def test_a_503_during_sync_is_temporary(provider, exchange, mailbox):
    provider.list_folders()
    exchange.inject("SyncFolderItems", "http", status=503)

    with pytest.raises(ProviderError) as caught:
        provider.changes("Inbox", "", 10)

    assert not caught.value.permanent
    assert caught.value.retry_after


def test_a_password_changed_after_connecting_is_an_auth_error(provider, exchange, mailbox):
    provider.list_folders()
    exchange.inject("SyncFolderItems", "http", status=401)

    with pytest.raises(ProviderError) as caught:
        provider.changes("Inbox", "", 10)

    assert caught.value.stage == "auth"
    assert caught.value.permanent


# -- fetching and finding ------------------------------------------------------------------


def test_fetch_raw_returns_the_exact_bytes(provider, mailbox):
    raws = [corpus_file(name) for name in THREAD[:3]]
    refs = [mailbox.deliver(raw) for raw in raws]
    mailbox.delete(refs[1])

    fetched = provider.fetch_raw("Inbox", [refs[2], refs[1], refs[0]])

    assert [(m.ref, m.raw) for m in fetched] == [(refs[2], raws[2]), (refs[0], raws[0])]
    assert not mailbox.find(refs[0]).is_read


def test_find_by_message_id(provider, mailbox):
    ref = mailbox.deliver(corpus_file(THREAD[3]))
    mailbox.deliver(corpus_file(THREAD[4]))

    assert provider.find_by_message_id("Inbox", "<473FFE27.20003@xxx.org>") == ref
    assert provider.find_by_message_id("Inbox", "473FFE27.20003@xxx.org") == ref
    assert provider.find_by_message_id("Inbox", "<missing@xxx.org>") is None
    assert provider.find_by_message_id("Sent Items", "<473FFE27.20003@xxx.org>") is None


# -- sending ---------------------------------------------------------------------------------


def test_send_files_a_copy_in_sent_items_and_returns_the_message_id(provider, mailbox):
    raw = message("<quote-1@example.test>")
    outgoing = OutgoingMessage(
        envelope_from=EMAIL,
        recipients=["bob@example.test", "audit@example.test"],
        raw=raw,
        message_id="<quote-1@example.test>",
    )

    result = provider.send(outgoing)

    assert result.provider_id == "<quote-1@example.test>"
    assert result.accepted_recipients == ["bob@example.test", "audit@example.test"]
    [sent] = mailbox.outbox
    assert (sent.raw, sent.disposition) == (raw, "SendAndSaveCopy")
    # Not in the headers, so Exchange hears of it as Bcc.
    assert sent.bcc == ["audit@example.test"]
    ref = provider.find_by_message_id("Sent Items", "<quote-1@example.test>")
    assert ref is not None
    assert provider.fetch_raw("Sent Items", [ref])[0].raw == raw
    assert [h.ref for h in provider.changes("Sent Items", "", 10).headers] == [ref]


def test_server_busy_is_temporary_with_the_servers_back_off(provider, exchange, mailbox):
    exchange.inject("CreateItem", "server_busy", back_off_ms=297749)
    outgoing = OutgoingMessage(
        EMAIL, ["bob@example.test"], message("<busy@example.test>"), "<busy@example.test>"
    )

    with pytest.raises(ProviderError) as caught:
        provider.send(outgoing)

    assert not caught.value.permanent
    assert caught.value.retry_after == pytest.approx(297.749)
    assert mailbox.outbox == []


def test_a_message_exchange_refuses_is_a_permanent_error(provider, exchange, mailbox):
    exchange.inject("CreateItem", "response", code="ErrorMessageSizeExceeded")
    outgoing = OutgoingMessage(
        EMAIL, ["bob@example.test"], message("<big@example.test>"), "<big@example.test>"
    )

    with pytest.raises(ProviderError) as caught:
        provider.send(outgoing)

    assert caught.value.permanent
    assert "ErrorMessageSizeExceeded" in caught.value.message
