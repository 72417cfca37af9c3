"""The connect forms are no port scanner (security review, point 5).

Servers users name are reached only at public addresses unless CRM_MAIL_SERVER_ALLOWLIST
allows more; the check is made on the address each connection goes to, so a name that
resolves differently the second time (DNS rebinding) cannot slip past it. Connection tests
from the forms are short, rate-limited per user, and say the same thing for a closed port and
for a port where something other than a mail server answers.

The suite's own servers listen on loopback, which tests/conftest.py allows; the tests of the
refusals empty the allow-list. Whether a refused server was contacted at all is seen by a
`Listener` on loopback that counts the connections it accepts. Addresses outside loopback
(10.0.0.5, 169.254.169.254) appear only where the refusal comes before any connection.
"""

import ipaddress
import socket
import threading
import time

import pytest
from django.urls import reverse

from mailboxes.connecting.connections import SETTINGS_BUILDERS
from mailboxes.connecting.limits import CONNECTION_TEST_TIMEOUT, CONNECTION_TESTS_PER_MINUTE
from mailboxes.connecting.probes import fetch_url, probe_server
from mailboxes.models import Mailbox
from mailboxes.providers import NetworkPolicy, open_connection
from mailboxes.providers.base import (
    AddressNotAllowed,
    ConnectionSettings,
    OutgoingMessage,
    ProviderError,
)
from mailboxes.providers.ews import EwsProvider, EwsSettings
from mailboxes.providers.imap_smtp import ImapSmtpProvider
from mailboxes.providers.network import is_public
from tests.fakes.dns import FakeDnsServer, serve_system_lookups
from tests.fakes.ews import isolate_exchangelib, reset_exchangelib, use_fake_dns
from tests.integration.servers import free_port

IMAP_URL = reverse("mailboxes:connect-imap")
EXCHANGE_URL = reverse("mailboxes:connect-exchange")
BLOCKED_TITLE = "This server is not allowed"
UNREACHABLE = (
    "The server could not be reached: no IMAP and SMTP servers answered as such at "
    "{imap} port {imap_port} and {smtp} port {smtp_port}. Check the server names, the ports "
    "and the security settings (SSL is usually port 993 for IMAP and 465 for SMTP, STARTTLS "
    "143 and 587)."
)

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")


class Listener:
    """A TCP server on 127.0.0.1 that counts the connections it accepts and answers each
    with `banner` (nothing, when empty) before closing it after `hold` seconds."""

    def __init__(self, banner: bytes = b"", hold: float = 0.0) -> None:
        self.banner, self.hold = banner, hold
        self.accepted = 0
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.accepted += 1
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            if self.banner:
                conn.sendall(self.banner)
            deadline = time.monotonic() + self.hold
            while time.monotonic() < deadline and not self._stop.is_set():
                time.sleep(0.05)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()


@pytest.fixture
def listener():
    made = []

    def make(banner: bytes = b"", hold: float = 0.0) -> Listener:
        made.append(Listener(banner, hold))
        return made[-1]

    yield make
    for one in made:
        one.close()


@pytest.fixture
def no_allowlist(settings):
    """What a fresh install has: no server on a private network is allowed."""
    settings.CRM_MAIL_SERVER_ALLOWLIST = []


@pytest.fixture
def dns_server():
    with FakeDnsServer() as server:
        yield server


@pytest.fixture
def owner_client(client, owner):
    client.force_login(owner)
    return client


def imap_form(imap_host, imap_port, smtp_host=None, smtp_port=None, **changes):
    data = {
        "email": "ana@example.test",
        "password": "secret",
        "imap_host": imap_host,
        "imap_port": imap_port,
        "imap_security": "none",
        "smtp_host": smtp_host or imap_host,
        "smtp_port": smtp_port or imap_port,
        "smtp_security": "none",
    }
    data.update(changes)
    return data


def form_error(response) -> str:
    (error,) = response.context["form"].non_field_errors()
    return error


def imap_settings(host: str, port: int, network=None, **changes) -> ConnectionSettings:
    fields = dict(
        email="ana@example.test",
        username="ana",
        password="secret",
        imap_host=host,
        imap_port=port,
        imap_security="none",
        smtp_host=host,
        smtp_port=port,
        smtp_security="none",
        timeout=5.0,
        network=network,
    )
    fields.update(changes)
    return ConnectionSettings(**fields)


# -- which addresses ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",  # loopback
        "127.8.9.10",
        "10.0.0.5",  # RFC 1918
        "172.16.3.4",
        "192.168.1.20",
        "169.254.169.254",  # link-local: AWS, GCP and Azure metadata
        "100.64.0.1",  # CGNAT shared space
        "0.0.0.0",  # unspecified
        "224.0.0.251",  # multicast
        "255.255.255.255",
        "192.0.2.10",  # documentation
        "::1",
        "::",
        "fe80::1",
        "fd00:ec2::254",  # AWS metadata over IPv6 (fc00::/7)
        "fc00::5",
        "ff02::1",
        "::ffff:127.0.0.1",  # IPv4-mapped
        "::ffff:169.254.169.254",
        "64:ff9b::a00:5",  # NAT64 of 10.0.0.5
        "2002:a00:5::1",  # 6to4 of 10.0.0.5
    ],
)
def test_non_public_addresses_are_refused_without_an_allow_list(address):
    ip = ipaddress.ip_address(address)
    assert not is_public(ip)
    assert not NetworkPolicy().allows_address(ip)


@pytest.mark.parametrize("address", ["8.8.8.8", "2001:4860:4860::8888", "64:ff9b::808:808"])
def test_public_addresses_are_allowed(address):
    assert NetworkPolicy().allows_address(ipaddress.ip_address(address))


def test_the_allow_list_takes_networks_addresses_and_host_names():
    policy = NetworkPolicy.from_entries(["192.168.1.0/24", " 10.0.0.5 ", "[fd12::1]", "Mail.LAN."])

    assert policy.allows_address(ipaddress.ip_address("192.168.1.77"))
    assert policy.allows_address(ipaddress.ip_address("10.0.0.5"))
    assert policy.allows_address(ipaddress.ip_address("::ffff:10.0.0.5"))
    assert policy.allows_address(ipaddress.ip_address("fd12::1"))
    assert not policy.allows_address(ipaddress.ip_address("10.0.0.6"))
    assert not policy.allows_address(ipaddress.ip_address("169.254.169.254"))
    assert policy.allows_host("mail.lan") and not policy.allows_host("other.lan")
    with pytest.raises(ValueError):
        NetworkPolicy.from_entries(["not a host!"])


def test_a_bad_allow_list_fails_the_system_check(settings):
    from mailboxes.connecting.connections import check_server_allowlist

    settings.CRM_MAIL_SERVER_ALLOWLIST = ["10.0.0.0/8", "what is this"]
    (error,) = check_server_allowlist()
    assert error.id == "mailboxes.E001" and "what is this" in error.msg


def test_the_builders_give_imap_and_exchange_the_configured_policy(settings):
    settings.CRM_MAIL_SERVER_ALLOWLIST = ["10.1.0.0/16"]
    imap = SETTINGS_BUILDERS["imap"](
        {
            "imap_host": "imap.example.test",
            "imap_port": 993,
            "imap_security": "ssl",
            "smtp_host": "smtp.example.test",
            "smtp_port": 465,
            "smtp_security": "ssl",
        },
        {"password": "p"},
        "ana@example.test",
    )
    ews = SETTINGS_BUILDERS["exchange"]({}, {"password": "p"}, "ana@example.test")
    for built in (imap, ews):
        assert built.network == NetworkPolicy.from_entries(["10.1.0.0/16"])


def test_every_address_a_name_resolves_to_is_checked(dns_server, monkeypatch, listener):
    # One public and one loopback address: the connection could take either, so neither.
    dns_server.add("mixed.test", "A", "8.8.8.8", "127.0.0.1")
    serve_system_lookups(monkeypatch, dns_server)

    with pytest.raises(AddressNotAllowed):
        open_connection("mixed.test", 993, 1.0, NetworkPolicy())


# -- refusals through the connect forms (allow-list empty) --------------------------------------


@pytest.mark.parametrize("host", ["10.0.0.5", "169.254.169.254", "0.0.0.0"])
def test_imap_form_refuses_private_and_metadata_addresses(owner_client, no_allowlist, host):
    response = owner_client.post(IMAP_URL, imap_form(host, 993))

    error = form_error(response)
    assert error.startswith(f"{BLOCKED_TITLE}: {host} is on a private or local network")
    assert not Mailbox.objects.exists()


def test_imap_form_refuses_loopback_without_connecting(owner_client, no_allowlist, listener):
    server = listener(b"* OK IMAP4rev1 ready\r\n")

    response = owner_client.post(IMAP_URL, imap_form("127.0.0.1", server.port))

    assert form_error(response).startswith(f"{BLOCKED_TITLE}: 127.0.0.1 is on a private")
    assert server.accepted == 0
    assert not Mailbox.objects.exists()


def test_imap_form_refuses_a_name_that_resolves_to_loopback(
    owner_client, no_allowlist, listener, dns_server, monkeypatch
):
    server = listener(b"* OK IMAP4rev1 ready\r\n")
    dns_server.add("imap.sneaky.test", "A", "127.0.0.1")
    serve_system_lookups(monkeypatch, dns_server)

    response = owner_client.post(IMAP_URL, imap_form("imap.sneaky.test", server.port))

    error = form_error(response)
    assert error.startswith(f"{BLOCKED_TITLE}: imap.sneaky.test is on a private")
    assert "127.0.0.1" not in error  # what an internal name resolves to is not told
    assert server.accepted == 0


def test_the_smtp_side_is_checked_too(listener):
    # IMAP's address is allowed; SMTP is on another loopback address, which is not.
    smtp = listener(b"220 mail ready\r\n")
    settings = imap_settings(
        "127.0.0.1",
        free_port(),
        NetworkPolicy.from_entries(["127.0.0.1"]),
        smtp_host="127.0.0.2",
        smtp_port=smtp.port,
    )
    message = OutgoingMessage(
        "ana@example.test", ["bo@example.test"], b"Subject: x\r\n\r\nx", "<x@y>"
    )

    with pytest.raises(ProviderError) as caught:
        with ImapSmtpProvider(settings) as provider:
            provider.send(message)

    assert caught.value.stage == "blocked"
    assert smtp.accepted == 0


@pytest.mark.parametrize(
    "url",
    [
        "https://169.254.169.254/EWS/Exchange.asmx",
        "https://10.0.0.5/EWS/Exchange.asmx",
        "https://[fd00:ec2::254]/EWS/Exchange.asmx",
    ],
)
def test_exchange_form_refuses_private_and_metadata_urls(owner_client, no_allowlist, url):
    response = owner_client.post(
        EXCHANGE_URL, {"email": "ana@example.test", "password": "x", "ews_url": url}
    )

    error = form_error(response)
    assert error.startswith(f"{BLOCKED_TITLE}: ")
    assert not Mailbox.objects.exists()


def test_exchange_form_refuses_loopback_without_connecting(owner_client, no_allowlist, listener):
    server = listener(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")

    response = owner_client.post(
        EXCHANGE_URL,
        {
            "email": "ana@example.test",
            "password": "x",
            "ews_url": f"https://127.0.0.1:{server.port}/EWS/Exchange.asmx",
        },
    )

    assert form_error(response).startswith(f"{BLOCKED_TITLE}: 127.0.0.1 is on a private")
    assert server.accepted == 0


@pytest.fixture
def exchangelib_isolated(monkeypatch, tmp_path):
    isolate_exchangelib(monkeypatch, tmp_path)
    yield
    reset_exchangelib()


@pytest.mark.parametrize("allowed", [False, True])
def test_autodiscover_connects_only_where_the_policy_allows(
    dns_server, monkeypatch, listener, exchangelib_isolated, allowed
):
    # The address's domain points Autodiscover at loopback, where something listens.
    server = listener(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
    for name in ("sneaky.test", "autodiscover.sneaky.test"):
        dns_server.add(name, "A", "127.0.0.1")
    use_fake_dns(monkeypatch, dns_server)
    serve_system_lookups(
        monkeypatch, dns_server, {"sneaky.test": server.port, "autodiscover.sneaky.test": 0}
    )
    policy = NetworkPolicy.from_entries(["127.0.0.0/8"] if allowed else [])

    with pytest.raises(ProviderError):
        with EwsProvider(
            EwsSettings(email="ana@sneaky.test", password="x", timeout=2.0, network=policy)
        ) as provider:
            provider.verify()

    # With loopback allowed the same setup reaches the listener: the refusal is the policy's.
    assert (server.accepted > 0) is allowed


# -- DNS rebinding -------------------------------------------------------------------------------


@pytest.mark.integration
def test_a_name_rebinding_between_check_and_connect_reaches_only_the_checked_address(
    dovecot, dns_server, monkeypatch
):
    # The attacker's DNS answers an allowed address first and another one after: a check on
    # one lookup and a connection on a second would go to 127.0.0.2, where nothing listens.
    dns_server.rebind("imap.rebind.test", "A", "127.0.0.1", "127.0.0.2")
    serve_system_lookups(monkeypatch, dns_server)
    policy = NetworkPolicy.from_entries(["127.0.0.1"])
    settings = imap_settings(
        "imap.rebind.test", dovecot.port, policy, username=dovecot.user, password=dovecot.password
    )

    with ImapSmtpProvider(settings) as provider:
        assert any(f.name == "INBOX" for f in provider.list_folders())
    assert dns_server.queried("A") == ["imap.rebind.test"]

    # Each new connection resolves and checks again: the second answer is refused.
    with pytest.raises(ProviderError) as caught:
        with ImapSmtpProvider(settings) as provider:
            provider.list_folders()
    assert caught.value.stage == "blocked"


# -- the same words for a closed port and for something else answering ---------------------------


@pytest.mark.parametrize(
    "server_kind",
    ["closed", "http", "ssh", "silent-close", "tls-to-plain"],
)
def test_imap_form_says_the_same_for_a_closed_port_and_another_kind_of_server(
    owner_client, listener, server_kind
):
    banners = {
        "http": b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n",
        "ssh": b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n",
        "silent-close": b"",
        "tls-to-plain": b"* OK IMAP4rev1 plain text only\r\n",
    }
    if server_kind == "closed":
        port = free_port()
    else:
        port = listener(banners[server_kind]).port
    changes = {"imap_security": "ssl"} if server_kind == "tls-to-plain" else {}

    response = owner_client.post(IMAP_URL, imap_form("127.0.0.1", port, **changes))

    assert form_error(response) == UNREACHABLE.format(
        imap="127.0.0.1", imap_port=port, smtp="127.0.0.1", smtp_port=port
    )


@pytest.mark.parametrize("server_kind", ["closed", "http-404"])
def test_exchange_form_says_the_same_for_a_closed_port_and_a_web_server(
    owner_client, listener, server_kind
):
    if server_kind == "closed":
        port = free_port()
    else:
        port = listener(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n").port
    url = f"http://127.0.0.1:{port}/EWS/Exchange.asmx"

    response = owner_client.post(
        EXCHANGE_URL, {"email": "ana@example.test", "password": "x", "ews_url": url}
    )

    assert form_error(response) == (
        f"The server could not be reached: no Exchange server answered as such at {url}. "
        "Check the Exchange URL: it usually looks like "
        "https://mail.example.com/EWS/Exchange.asmx."
    )


# -- short and few -------------------------------------------------------------------------------


@pytest.mark.timeout(30)
def test_a_connection_test_gives_up_after_a_few_seconds(owner_client, listener):
    # Something accepts and then says nothing: the test waits for its short timeout only.
    server = listener(hold=25.0)

    started = time.monotonic()
    response = owner_client.post(IMAP_URL, imap_form("127.0.0.1", server.port))
    elapsed = time.monotonic() - started

    assert form_error(response).startswith("The server could not be reached")
    assert CONNECTION_TEST_TIMEOUT <= elapsed < CONNECTION_TEST_TIMEOUT + 5


def test_connection_tests_are_limited_per_user(client, owner, teammate):
    closed = free_port()
    client.force_login(owner)
    for _ in range(CONNECTION_TESTS_PER_MINUTE):
        response = client.post(IMAP_URL, imap_form("127.0.0.1", closed))
        assert form_error(response).startswith("The server could not be reached")

    refused = client.post(IMAP_URL, imap_form("127.0.0.1", closed))
    detection = client.get(IMAP_URL + "?email=ana@example.test", follow=True)

    too_many = (
        f"You have tested {CONNECTION_TESTS_PER_MINUTE} connections in the last minute, the "
        "most allowed. Wait a minute, then try again."
    )
    assert form_error(refused) == too_many
    assert too_many in detection.content.decode()
    assert detection.context["guess"] is None
    # Another user has a minute of their own.
    client.force_login(teammate)
    other = client.post(IMAP_URL, imap_form("127.0.0.1", closed))
    assert form_error(other).startswith("The server could not be reached")


# -- server detection for an address --------------------------------------------------------------


def test_detection_probes_and_fetches_only_where_the_policy_allows(listener):
    server = listener(b"* OK IMAP4rev1 ready\r\n")

    refused = probe_server("127.0.0.1", server.port, "none", "imap", network=NetworkPolicy())
    with pytest.raises(OSError):
        fetch_url(f"https://127.0.0.1:{server.port}/mail/config-v1.1.xml", 2.0, NetworkPolicy())
    assert (refused, server.accepted) == (False, 0)

    allowed = NetworkPolicy.from_entries(["127.0.0.1"])
    assert probe_server("127.0.0.1", server.port, "none", "imap", network=allowed)
    assert server.accepted == 1
