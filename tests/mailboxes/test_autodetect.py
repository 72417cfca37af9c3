"""Provider recommendation and IMAP/SMTP server detection for the connect flow.

Nothing here touches the internet or mocks autodetect's own functions: DNS answers come from
a loopback DNS server (tests.fakes.dns), autoconfig files from a local http.server reached
through an http_get that keeps the real URL shapes, and probes from real TCP listeners.
"""

from __future__ import annotations

import datetime
import http.server
import socket
import socketserver
import ssl
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from mailboxes.connecting import probes
from mailboxes.connecting.autodetect import recommend_provider
from mailboxes.connecting.servers import detect_servers, parse_autoconfig
from tests.fakes.dns import FakeDnsServer

AUTOCONFIG_XML = """<?xml version="1.0" encoding="UTF-8"?>
<clientConfig version="1.1">
  <emailProvider id="auto.test">
    <domain>auto.test</domain>
    <incomingServer type="pop3">
      <hostname>pop.auto.test</hostname><port>995</port><socketType>SSL</socketType>
      <username>%EMAILADDRESS%</username>
    </incomingServer>
    <incomingServer type="imap">
      <hostname>plain.auto.test</hostname><port>143</port><socketType>plain</socketType>
      <username>%EMAILLOCALPART%</username>
    </incomingServer>
    <incomingServer type="imap">
      <hostname>imap.%EMAILDOMAIN%</hostname><port>993</port><socketType>SSL</socketType>
      <username>%EMAILLOCALPART%</username>
      <authentication>password-cleartext</authentication>
    </incomingServer>
    <outgoingServer type="smtp">
      <hostname>smtp.auto.test</hostname><port>587</port><socketType>STARTTLS</socketType>
      <username>%EMAILADDRESS%</username>
    </outgoingServer>
    <outgoingServer type="smtp">
      <hostname>smtp2.auto.test</hostname><port>465</port><socketType>SSL</socketType>
      <username>%EMAILADDRESS%</username>
    </outgoingServer>
  </emailProvider>
</clientConfig>
"""

HOSTILE_XML = """<?xml version="1.0"?>
<!DOCTYPE clientConfig [
  <!ENTITY a "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa">
  <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
  <!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
]>
<clientConfig version="1.1"><emailProvider id="evil.test">
  <incomingServer type="imap"><hostname>&c;</hostname><port>993</port>
    <socketType>SSL</socketType></incomingServer>
  <outgoingServer type="smtp"><hostname>smtp.evil.test</hostname><port>465</port>
    <socketType>SSL</socketType></outgoingServer>
</emailProvider></clientConfig>
"""


# -- local servers -----------------------------------------------------------------------


@pytest.fixture
def dns_server():
    with FakeDnsServer() as server:
        yield server


@pytest.fixture
def resolver(dns_server):
    # Generous for answers on a loaded CI machine (0.5 s timed out under a parallel suite); the
    # tests of timeouts set their own.
    return dns_server.resolver(lifetime=3.0)


class AutoconfigSite:
    """Serve pages keyed by "<original host><path>" and record the real URLs asked for."""

    def __init__(self) -> None:
        self.pages: dict[str, tuple[int, bytes]] = {}
        self.requested: list[str] = []
        site = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                status, body = site.pages.get(urlsplit(self.path).path[1:], (404, b""))
                self.send_response(status)
                if status in (301, 302):
                    self.send_header("Location", body.decode())
                    body = b""
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def serve(self, url: str, body: str | bytes, status: int = 200) -> None:
        parts = urlsplit(url)
        raw = body.encode() if isinstance(body, str) else body
        self.pages[f"{parts.hostname}{parts.path}"] = (status, raw)

    def http_get(self, url: str, timeout: float) -> tuple[int, bytes]:
        """Fetch `url` from this server instead of its real host, with the real fetcher."""
        self.requested.append(url)
        parts = urlsplit(url)
        query = f"?{parts.query}" if parts.query else ""
        return probes.fetch_url(f"{self.base}/{parts.hostname}{parts.path}{query}", timeout)


@pytest.fixture
def site():
    site = AutoconfigSite()
    yield site
    site.server.shutdown()
    site.server.server_close()


class _TCPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    # A silent greeter's handler is still sleeping at teardown; don't wait for it.
    block_on_close = False


class Greeter:
    """Listen on a loopback port; greet each connection with `greeting`, or stay silent."""

    def __init__(self, greeting: bytes | None, tls: ssl.SSLContext | None = None) -> None:
        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                conn = self.request
                if tls is not None:
                    conn = tls.wrap_socket(conn, server_side=True)
                if greeting is None:
                    time.sleep(1.0)
                else:
                    conn.sendall(greeting + b"\r\n")

        self.server = _TCPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def greeters():
    started = {
        "imap": Greeter(b"* OK IMAP4rev1 ready"),
        "smtp": Greeter(b"220 smtp ready"),
        "ssh": Greeter(b"SSH-2.0-OpenSSH_9.6"),
        "silent": Greeter(None),
    }
    yield started
    for greeter in started.values():
        greeter.close()


@dataclass
class MappedProbe:
    """Probe (host, port) pairs by connecting to the loopback greeter mapped to them."""

    ports: dict[tuple[str, int], int]

    def __post_init__(self) -> None:
        self.calls: list[tuple[str, int, str, str]] = []
        self._lock = threading.Lock()

    def __call__(self, host: str, port: int, security: str, protocol: str) -> bool:
        with self._lock:
            self.calls.append((host, port, security, protocol))
        local = self.ports.get((host, port))
        if local is None:
            return False
        # Plain text on loopback: the greeting check is what is under test here.
        return probes.probe_server("127.0.0.1", local, "none", protocol, timeout=0.5)


def unused(*args: object) -> None:
    pytest.fail(f"should not have been called: {args!r}")


def closed_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- recommend_provider ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("email", "provider", "alternatives"),
    [
        ("jane@gmail.com", "gmail", ("imap",)),
        ("jane@googlemail.com", "gmail", ("imap",)),
        ("jane@outlook.com", "office365", ()),
        ("jane@hotmail.it", "office365", ()),
        ("jane@live.co.uk", "office365", ()),
        ("jane@msn.com", "office365", ()),
        ("jane@yahoo.com", "imap", ()),
        ("jane@yahoo.co.jp", "imap", ()),
        ("jane@icloud.com", "imap", ()),
        ("jane@me.com", "imap", ()),
        ("jane@aol.com", "imap", ()),
        ("jane@gmx.de", "imap", ()),
        ("jane@web.de", "imap", ()),
        ("Jane@Libero.IT", "imap", ()),
        ("jane@zoho.com", "imap", ()),
        ("jane@fastmail.com", "imap", ()),
    ],
)
def test_consumer_domains_are_recommended_without_dns(
    dns_server, resolver, email, provider, alternatives
):
    recommendation = recommend_provider(email, resolver=resolver)

    assert recommendation.provider == provider
    assert recommendation.alternatives == alternatives
    assert recommendation.refused is None
    assert recommendation.domain in recommendation.why
    assert dns_server.queries == []


def test_company_domain_that_looks_like_a_consumer_one_is_looked_up(dns_server, resolver):
    dns_server.add("live.acme.test", "MX", "10 mx.acme.test.")

    recommendation = recommend_provider("jane@live.acme.test", resolver=resolver)

    assert recommendation.provider == "imap"
    assert recommendation.alternatives == ("exchange",)
    assert recommendation.mx_host == "mx.acme.test"
    assert dns_server.queried("MX") == ["live.acme.test"]


@pytest.mark.parametrize(
    "mx",
    [
        ("1 aspmx.l.google.com.", "5 alt1.aspmx.l.google.com.", "10 aspmx2.googlemail.com."),
        ("1 smtp.google.com.",),
        ("20 backup.acme.test.", "10 ASPMX.L.GOOGLE.COM."),
    ],
)
def test_google_workspace_domain_is_recommended_gmail_by_its_mx(dns_server, resolver, mx):
    dns_server.add("acme.test", "MX", *mx)

    recommendation = recommend_provider("jane@acme.test", resolver=resolver)

    assert recommendation.provider == "gmail"
    assert recommendation.alternatives == ("imap",)
    assert recommendation.why.startswith("Your domain's mail is handled by Google Workspace (MX ")
    assert recommendation.mx_host in recommendation.why


def test_only_the_most_preferred_mx_decides(dns_server, resolver):
    # A Google backup MX behind a company's own primary does not make it a Workspace domain,
    # nor does a look-alike name.
    dns_server.add("acme.test", "MX", "10 mx.acme.test.", "20 aspmx.l.google.com.")
    dns_server.add("fake.test", "MX", "10 aspmx.l.evilgoogle.com.")

    assert recommend_provider("jane@acme.test", resolver=resolver).provider == "imap"
    assert recommend_provider("jane@fake.test", resolver=resolver).provider == "imap"


def test_office365_domain_is_recommended_office365_by_its_mx(dns_server, resolver):
    dns_server.add("contoso.test", "MX", "0 contoso-test.mail.protection.outlook.com.")

    recommendation = recommend_provider("jane@contoso.test", resolver=resolver)

    assert recommendation.provider == "office365"
    # Hybrid deployments receive through Office 365 but keep mailboxes on Exchange.
    assert recommendation.alternatives == ("exchange",)
    assert "contoso-test.mail.protection.outlook.com" in recommendation.why


def test_amazon_workmail_domain_is_refused_with_an_explanation(dns_server, resolver):
    dns_server.add("shop.test", "MX", "10 inbound-smtp.eu-west-1.amazonaws.com.")

    recommendation = recommend_provider("jane@shop.test", resolver=resolver)

    assert recommendation.provider is None
    assert recommendation.alternatives == ()
    assert "Amazon SES" in recommendation.refused and "WorkMail" in recommendation.refused
    # The explanation says what to do instead, not only that it failed.
    assert "Google Workspace" in recommendation.refused
    assert "inbound-smtp.eu-west-1.amazonaws.com" in recommendation.why


def test_other_mail_host_is_recommended_imap_with_exchange_offered(dns_server, resolver):
    dns_server.add("corp.test", "MX", "10 mx1.corp.test.")

    recommendation = recommend_provider("jane@corp.test", resolver=resolver)

    assert recommendation.provider == "imap"
    assert recommendation.alternatives == ("exchange",)
    assert "mx1.corp.test" in recommendation.why


@pytest.mark.parametrize("failure", ["servfail", "timeout", "no server"])
def test_dns_failure_falls_back_to_imap_and_offers_everything(dns_server, failure):
    if failure == "servfail":
        dns_server.fail("acme.test")
        resolver = dns_server.resolver(lifetime=0.5)
    elif failure == "timeout":
        dns_server.drop("acme.test")
        resolver = dns_server.resolver(lifetime=0.5)
    else:
        resolver = dns_server.resolver(lifetime=0.5)
        resolver.port = closed_port(socket.SOCK_DGRAM)

    started = time.monotonic()
    recommendation = recommend_provider("jane@acme.test", resolver=resolver)

    assert time.monotonic() - started < 2
    assert recommendation.provider == "imap"
    assert recommendation.alternatives == ("gmail", "office365", "exchange")
    assert recommendation.why.startswith("We couldn't look up who handles mail for acme.test")


def test_missing_domain_and_missing_mx_are_explained(dns_server, resolver):
    dns_server.add("nomx.test", "A", "192.0.2.1")
    dns_server.add("nomail.test", "MX", "0 .")

    missing = recommend_provider("jane@typo.test", resolver=resolver)
    no_mx = recommend_provider("jane@nomx.test", resolver=resolver)
    null_mx = recommend_provider("jane@nomail.test", resolver=resolver)

    assert missing.provider == "imap" and "doesn't seem to exist" in missing.why
    assert no_mx.provider == "imap" and "no MX records" in no_mx.why
    assert null_mx.provider == "imap" and "receives no email" in null_mx.why


@pytest.mark.parametrize("email", ["", "jane", "jane@", "@acme.test", "jane@bad_domain.test"])
def test_malformed_addresses_get_an_answer_not_an_exception(dns_server, resolver, email):
    recommendation = recommend_provider(email, resolver=resolver)
    guess = detect_servers(email, resolver=resolver, http_get=unused, probe=unused)

    assert recommendation.provider == "imap"
    assert guess.source == "none" and not guess.complete
    assert dns_server.queries == []


# -- detect_servers: admin settings and the known table ----------------------------------


def test_known_consumer_domain_gets_its_published_servers(dns_server, resolver):
    guess = detect_servers("jane.doe@icloud.com", resolver=resolver, http_get=unused, probe=unused)

    assert guess.source == "known" and guess.smtp_source == "known"
    assert (guess.imap_host, guess.imap_port, guess.imap_security) == (
        "imap.mail.me.com",
        993,
        "ssl",
    )
    assert (guess.smtp_host, guess.smtp_port, guess.smtp_security) == (
        "smtp.mail.me.com",
        587,
        "starttls",
    )
    # iCloud wants the bare name for IMAP but the full address for SMTP.
    assert (guess.username, guess.username_form) == ("jane.doe", "local_part")
    assert (guess.smtp_username, guess.smtp_username_form) == ("jane.doe@icloud.com", "email")
    assert any("app-specific password" in note for note in guess.notes)
    assert dns_server.queries == []

    settings = guess.connection_settings("app-pass", trust_any_certificate=True)
    assert settings.username == "jane.doe" and settings.smtp_login == (
        "jane.doe@icloud.com",
        "app-pass",
    )
    assert settings.trust_any_certificate


def test_google_workspace_domain_gets_gmail_servers_with_app_password_note(dns_server, resolver):
    dns_server.add("acme.test", "MX", "1 aspmx.l.google.com.")

    guess = detect_servers("jane@acme.test", resolver=resolver, http_get=unused, probe=unused)

    assert guess.source == "known"
    assert (guess.imap_host, guess.imap_port, guess.imap_security) == ("imap.gmail.com", 993, "ssl")
    assert (guess.smtp_host, guess.smtp_port, guess.smtp_security) == ("smtp.gmail.com", 465, "ssl")
    assert guess.username == "jane@acme.test"
    assert any("app password" in note for note in guess.notes)


def test_office365_domain_gets_office365_servers(dns_server, resolver):
    dns_server.add("contoso.test", "MX", "0 contoso-test.mail.protection.outlook.com.")

    guess = detect_servers("jane@contoso.test", resolver=resolver, http_get=unused, probe=unused)

    assert guess.source == "known"
    assert (guess.imap_host, guess.imap_port, guess.imap_security) == (
        "outlook.office365.com",
        993,
        "ssl",
    )
    assert (guess.smtp_host, guess.smtp_port, guess.smtp_security) == (
        "smtp.office365.com",
        587,
        "starttls",
    )


@dataclass
class DomainSettings:
    imap_host: str
    imap_port: int
    imap_security: str
    smtp_host: str
    smtp_port: int
    smtp_security: str
    username_form: str = "email"


@pytest.mark.parametrize(
    "admin",
    [
        {
            "imap_host": "mail.acme.test",
            "imap_port": "143",
            "imap_security": "starttls",
            "smtp_host": "relay.acme.test",
            "smtp_port": 25,
            "smtp_security": "starttls",
            "username_form": "local_part",
        },
        DomainSettings(
            "mail.acme.test", 143, "starttls", "relay.acme.test", 25, "starttls", "local_part"
        ),
    ],
)
def test_admin_domain_settings_win_over_everything(dns_server, resolver, site, admin):
    # Every other source would answer differently for this domain.
    dns_server.add("acme.test", "MX", "1 aspmx.l.google.com.")
    dns_server.add("_imaps._tcp.acme.test", "SRV", "0 1 993 imap.srv.test.")
    site.serve("https://autoconfig.acme.test/mail/config-v1.1.xml", AUTOCONFIG_XML)

    guess = detect_servers(
        "jane@acme.test",
        domain_settings=admin,
        resolver=resolver,
        http_get=site.http_get,
        probe=unused,
    )

    assert guess.source == "admin" and guess.smtp_source == "admin"
    assert (guess.imap_host, guess.imap_port, guess.imap_security) == (
        "mail.acme.test",
        143,
        "starttls",
    )
    assert (guess.smtp_host, guess.smtp_port, guess.smtp_security) == (
        "relay.acme.test",
        25,
        "starttls",
    )
    assert guess.username == guess.smtp_username == "jane"
    assert dns_server.queries == [] and site.requested == []


def test_incomplete_admin_settings_are_completed_from_later_sources(dns_server, resolver):
    dns_server.add("acme.test", "MX", "10 mx.acme.test.")
    dns_server.add("_submissions._tcp.acme.test", "SRV", "0 1 465 out.acme.test.")
    admin = {"imap_host": "in.acme.test", "imap_port": 993, "imap_security": "ssl"}

    guess = detect_servers(
        "jane@acme.test",
        domain_settings=admin,
        resolver=resolver,
        http_get=lambda url, timeout: (404, b""),
        probe=unused,
    )

    assert (guess.source, guess.imap_host) == ("admin", "in.acme.test")
    assert (guess.smtp_source, guess.smtp_host, guess.smtp_port) == ("srv", "out.acme.test", 465)


# -- detect_servers: autoconfig ----------------------------------------------------------


def test_autoconfig_is_read_from_the_autoconfig_subdomain(dns_server, resolver, site):
    dns_server.add("auto.test", "MX", "10 mx.auto.test.")
    site.serve("https://autoconfig.auto.test/mail/config-v1.1.xml", AUTOCONFIG_XML)

    guess = detect_servers(
        "jane+crm@auto.test", resolver=resolver, http_get=site.http_get, probe=unused
    )

    assert site.requested == [
        "https://autoconfig.auto.test/mail/config-v1.1.xml?emailaddress=jane%2Bcrm%40auto.test"
    ]
    assert guess.source == "autoconfig"
    # The first TLS server of each kind wins; POP and plain-text servers are passed over.
    assert (guess.imap_host, guess.imap_port, guess.imap_security) == ("imap.auto.test", 993, "ssl")
    assert (guess.smtp_host, guess.smtp_port, guess.smtp_security) == (
        "smtp.auto.test",
        587,
        "starttls",
    )
    assert (guess.username, guess.username_form) == ("jane+crm", "local_part")
    assert (guess.smtp_username, guess.smtp_username_form) == ("jane+crm@auto.test", "email")


def test_autoconfig_falls_back_to_the_well_known_url(dns_server, resolver, site):
    site.serve("https://auto.test/.well-known/autoconfig/mail/config-v1.1.xml", AUTOCONFIG_XML)

    guess = detect_servers(
        "jane@auto.test", resolver=resolver, http_get=site.http_get, probe=unused
    )

    assert site.requested == [
        "https://autoconfig.auto.test/mail/config-v1.1.xml?emailaddress=jane%40auto.test",
        "https://auto.test/.well-known/autoconfig/mail/config-v1.1.xml",
    ]
    assert guess.source == "autoconfig" and guess.imap_host == "imap.auto.test"


def test_autoconfig_with_a_doctype_is_rejected(dns_server, resolver, site):
    dns_server.add("evil.test", "MX", "10 mx.evil.test.")
    dns_server.add("_imaps._tcp.evil.test", "SRV", "0 1 993 imap.evil.test.")
    dns_server.add("_submissions._tcp.evil.test", "SRV", "0 1 465 smtp.evil.test.")
    site.serve("https://autoconfig.evil.test/mail/config-v1.1.xml", HOSTILE_XML)

    guess = detect_servers(
        "jane@evil.test", resolver=resolver, http_get=site.http_get, probe=unused
    )

    assert len(site.requested) == 2  # the hostile file was fetched, then ignored
    assert guess.source == guess.smtp_source == "srv"
    assert guess.imap_host == "imap.evil.test"
    assert parse_autoconfig(HOSTILE_XML) is None
    assert parse_autoconfig(HOSTILE_XML.replace("DOCTYPE", "doctype")) is None


@pytest.mark.parametrize(
    "document",
    [
        b"",
        b"<clientConfig><emailProvider>",
        b"<html><body>Not found</body></html>",
        b'<clientConfig version="1.1"><emailProvider id="x.test">'
        b'<incomingServer type="pop3"><hostname>pop.x.test</hostname><port>995</port>'
        b"<socketType>SSL</socketType></incomingServer></emailProvider></clientConfig>",
        b'<clientConfig version="1.1"><emailProvider id="x.test">'
        b'<incomingServer type="imap"><hostname>bad host</hostname><port>99999</port>'
        b"<socketType>SSL</socketType></incomingServer></emailProvider></clientConfig>",
    ],
)
def test_unusable_autoconfig_documents_are_ignored(document):
    assert parse_autoconfig(document) is None


def test_plain_text_autoconfig_server_is_used_only_when_it_is_the_only_one():
    imap, smtp = parse_autoconfig(
        '<clientConfig version="1.1"><emailProvider id="x.test">'
        '<incomingServer type="imap"><hostname>mail.x.test</hostname><port>143</port>'
        "<socketType>plain</socketType><username>x\\%EMAILLOCALPART%</username>"
        "</incomingServer></emailProvider></clientConfig>"
    )

    assert (imap.host, imap.port, imap.security, imap.username_form) == (
        "mail.x.test",
        143,
        "none",
        "other",
    )
    assert smtp is None


# -- detect_servers: SRV -----------------------------------------------------------------


def test_srv_records_are_used_and_a_dot_target_means_not_offered(dns_server, resolver):
    dns_server.add("srv.test", "MX", "10 mx.srv.test.")
    dns_server.add(
        "_imaps._tcp.srv.test", "SRV", "10 1 993 imap2.srv.test.", "0 1 993 imap.srv.test."
    )
    dns_server.add("_imap._tcp.srv.test", "SRV", "0 1 143 plain.srv.test.")
    dns_server.add("_submissions._tcp.srv.test", "SRV", "0 0 0 .")
    dns_server.add("_submission._tcp.srv.test", "SRV", "0 1 587 smtp.srv.test.")

    guess = detect_servers(
        "jane@srv.test",
        resolver=resolver,
        http_get=lambda url, timeout: (404, b""),
        probe=unused,
    )

    assert guess.source == "srv" and guess.smtp_source == "srv"
    assert (guess.imap_host, guess.imap_port, guess.imap_security) == ("imap.srv.test", 993, "ssl")
    assert (guess.smtp_host, guess.smtp_port, guess.smtp_security) == (
        "smtp.srv.test",
        587,
        "starttls",
    )
    assert guess.username == "jane@srv.test"


# -- detect_servers: probing -------------------------------------------------------------


def test_probing_prefers_host_names_in_order_and_checks_the_greeting(
    dns_server, resolver, greeters
):
    for host in ("mail.probe.test", "probe.test", "smtp.probe.test"):
        dns_server.add(host, "A", "127.0.0.1")  # no imap.probe.test
    probe = MappedProbe(
        {
            ("mail.probe.test", 993): greeters["smtp"].port,  # wrong greeting for IMAP
            ("mail.probe.test", 143): greeters["imap"].port,
            ("probe.test", 993): greeters["imap"].port,  # works, but a later host name
            ("smtp.probe.test", 465): greeters["ssh"].port,  # not SMTP at all
            ("smtp.probe.test", 587): greeters["smtp"].port,
            ("mail.probe.test", 465): greeters["smtp"].port,  # works, but a later host name
        }
    )

    guess = detect_servers(
        "jane@probe.test",
        resolver=resolver,
        http_get=lambda url, timeout: (404, b""),
        probe=probe,
    )

    assert guess.source == "probe" and guess.smtp_source == "probe"
    assert (guess.imap_host, guess.imap_port, guess.imap_security) == (
        "mail.probe.test",
        143,
        "starttls",
    )
    assert (guess.smtp_host, guess.smtp_port, guess.smtp_security) == (
        "smtp.probe.test",
        587,
        "starttls",
    )
    assert guess.username == "jane@probe.test"
    assert sorted(probe.calls) == sorted(
        [
            ("mail.probe.test", 993, "ssl", "imap"),
            ("mail.probe.test", 143, "starttls", "imap"),
            ("probe.test", 993, "ssl", "imap"),
            ("probe.test", 143, "starttls", "imap"),
            ("smtp.probe.test", 465, "ssl", "smtp"),
            ("smtp.probe.test", 587, "starttls", "smtp"),
            ("mail.probe.test", 465, "ssl", "smtp"),
            ("mail.probe.test", 587, "starttls", "smtp"),
        ]
    )  # imap.probe.test has no address, so it is never probed


def test_nothing_found_returns_source_none_with_empty_hosts(dns_server, resolver, site):
    dns_server.add("lonely.test", "MX", "10 mx.elsewhere.test.")
    dns_server.add("mail.lonely.test", "A", "127.0.0.1")
    probe = MappedProbe({})

    guess = detect_servers(
        "jane@lonely.test", resolver=resolver, http_get=site.http_get, probe=probe
    )

    assert guess.source == "none" and guess.smtp_source == "none"
    assert (guess.imap_host, guess.imap_port, guess.imap_security) == ("", None, None)
    assert (guess.smtp_host, guess.smtp_port, guess.smtp_security) == ("", None, None)
    assert not guess.complete
    assert len(site.requested) == 2 and len(probe.calls) == 4
    with pytest.raises(ValueError):
        guess.connection_settings("secret")


@pytest.mark.timeout(30)
def test_dns_timeout_stops_further_lookups_and_still_probes(dns_server):
    dns_server.drop("slow.test")
    resolver = dns_server.resolver(lifetime=0.3)
    probe = MappedProbe({})

    started = time.monotonic()
    guess = detect_servers(
        "jane@slow.test",
        resolver=resolver,
        http_get=lambda url, timeout: (404, b""),
        probe=probe,
    )

    assert time.monotonic() - started < 2
    assert guess.source == "none"
    assert set(dns_server.queried()) == {"slow.test"}
    # Without DNS we can't rule host names out, so every candidate is still tried.
    assert len(probe.calls) == 10


def test_injected_functions_that_raise_do_not_escape(dns_server, resolver):
    dns_server.add("boom.test", "A", "127.0.0.1")

    def explode(*args: object) -> None:
        raise RuntimeError("boom")

    guess = detect_servers("jane@boom.test", resolver=resolver, http_get=explode, probe=explode)

    assert guess.source == "none"


# -- network defaults --------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_context(tmp_path_factory):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "imap.selfsigned.test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    return context


def test_probe_server_checks_the_greeting_of_each_protocol(greeters, tls_context):
    tls_imap = Greeter(b"* OK [CAPABILITY IMAP4rev1] ready", tls=tls_context)
    try:
        # A self-signed certificate still counts as found; verification reports it later.
        assert probes.probe_server("127.0.0.1", tls_imap.port, "ssl", "imap", timeout=1)
    finally:
        tls_imap.close()
    imap, smtp = greeters["imap"].port, greeters["smtp"].port
    assert probes.probe_server("127.0.0.1", imap, "starttls", "imap", timeout=1)
    assert probes.probe_server("127.0.0.1", smtp, "starttls", "smtp", timeout=1)
    assert not probes.probe_server("127.0.0.1", smtp, "starttls", "imap", timeout=1)
    assert not probes.probe_server("127.0.0.1", imap, "starttls", "smtp", timeout=1)
    # Plain text where TLS was expected is no server of ours.
    assert not probes.probe_server("127.0.0.1", imap, "ssl", "imap", timeout=1)
    assert not probes.probe_server("127.0.0.1", closed_port(), "ssl", "imap", timeout=1)

    started = time.monotonic()
    assert not probes.probe_server(
        "127.0.0.1", greeters["silent"].port, "none", "smtp", timeout=0.3
    )
    assert time.monotonic() - started < 1


def test_fetch_url_limits_size_and_refuses_to_leave_https(site):
    site.pages["ok"] = (200, b"<clientConfig/>")
    site.pages["big"] = (200, b"x" * (probes.MAX_AUTOCONFIG_BYTES + 1))
    site.pages["downgrade"] = (302, b"http://example.test/config.xml")

    assert probes.fetch_url(f"{site.base}/ok", 1) == (200, b"<clientConfig/>")
    assert probes.fetch_url(f"{site.base}/missing", 1)[0] == 404
    assert probes.fetch_url(f"{site.base}/downgrade", 1) == (302, b"")
    with pytest.raises(ValueError):
        probes.fetch_url(f"{site.base}/big", 1)
    with pytest.raises(OSError):
        probes.fetch_url(f"http://127.0.0.1:{closed_port()}/", 1)
