"""Which addresses an adapter may connect to, and connecting only to those.

Inboxes are reached at servers their users typed in (IMAP and SMTP hosts, EWS URLs) or that
the DNS of their domain names (Autodiscover, autoconfig). Left alone, that lets anyone who can
connect an inbox make this server open connections inside its own network: loopback, the LAN,
link-local cloud metadata services (169.254.169.254, fd00:ec2::254). A `NetworkPolicy` refuses
every address that is not public unless an admin allow-listed it (a network or a host name).

The check and the connection use the same lookup: `open_connection` resolves the host once,
refuses it if any address it resolved to is not allowed, and connects only to those checked
addresses. A name that resolves to a public address for the check and to 127.0.0.1 a moment
later (DNS rebinding) therefore never reaches 127.0.0.1; every new connection checks again.

Adapters take the policy in their settings dataclass (`network`; None means no check, for
tests and tools that build settings by hand). `guarded_http` applies it to the HTTP
connections that requests and urllib3 open (exchangelib, the autoconfig fetch), through a
context variable, since exchangelib's HTTP adapter class is shared by the whole process.
A refusal raises `AddressNotAllowed` (providers/base.py, an OSError, so libraries pass it on
as a failed connection); adapters turn it into `refused_address(...)`, stage "blocked".

Nothing here imports the CRM or Django.
"""

from __future__ import annotations

import contextvars
import ipaddress
import socket
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import requests.adapters
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util.timeout import _DEFAULT_TIMEOUT

from mailboxes.providers.base import AddressNotAllowed

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# IPv6 forms that carry an IPv4 address a gateway will connect to.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for (mapped, NAT64, 6to4), if any."""
    if address.version != 6:
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour


def is_public(address: IPAddress) -> bool:
    """Whether an address is reachable on the internet: not loopback, private (RFC 1918,
    fc00::/7), link-local (169.254/16, fe80::/10, cloud metadata), shared (100.64/10),
    unspecified, reserved, documentation or multicast."""
    inner = embedded_ipv4(address)
    if inner is not None and not is_public(inner):
        return False
    return address.is_global and not address.is_multicast


def _address(text: str) -> IPAddress:
    return ipaddress.ip_address(text.split("%", 1)[0])  # without an IPv6 zone ("%eth0")


@dataclass(frozen=True, slots=True)
class NetworkPolicy:
    """Refuse connections to non-public addresses, except the allow-listed ones.

    `allowed_networks` are networks (a single address is a /32 or /128) any resolved address
    may be in; `allowed_hosts` are host names an admin trusts whatever they resolve to (a mail
    server on the LAN known by name). Public addresses are always allowed.
    """

    allowed_networks: tuple[IPNetwork, ...] = ()
    allowed_hosts: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def from_entries(cls, entries: Iterable[str]) -> NetworkPolicy:
        """Build a policy from allow-list entries: CIDR networks, addresses or host names.

        Raise ValueError for an entry that is none of these.
        """
        networks: list[IPNetwork] = []
        hosts: set[str] = set()
        for raw in entries:
            entry = raw.strip().strip("[]").lower()
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
                continue
            except ValueError:
                pass
            name = entry.rstrip(".")
            labels = name.split(".")
            if not all(label and len(label) < 64 for label in labels) or not all(
                c.isalnum() or c in "-._" for c in name
            ):
                raise ValueError(f"{raw!r} is neither a network, an address nor a host name")
            hosts.add(name)
        return cls(tuple(networks), frozenset(hosts))

    def allows_address(self, address: IPAddress) -> bool:
        if is_public(address):
            return True
        inner = embedded_ipv4(address)
        candidates = (address,) if inner is None else (address, inner)
        return any(
            a in network
            for a in candidates
            for network in self.allowed_networks
            if a.version == network.version
        )

    def allows_host(self, host: str) -> bool:
        return host.strip().rstrip(".").lower() in self.allowed_hosts

    def resolve(self, host: str, port: int) -> list[tuple]:
        """Resolve `host` once and return its getaddrinfo entries, all of them allowed.

        Raise AddressNotAllowed when any address it resolves to is refused (a name with one
        public and one private address is refused: the connection could take either), and
        socket.gaierror when it does not resolve.
        """
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        if self.allows_host(host):
            return infos
        for *_, sockaddr in infos:
            address = _address(sockaddr[0])
            if not self.allows_address(address):
                raise AddressNotAllowed(host, str(address))
        return infos


def open_connection(
    host: str,
    port: int,
    timeout: float | None,
    policy: NetworkPolicy | None,
    source_address: tuple[str, int] | None = None,
    socket_options: Iterable[tuple] | None = None,
) -> socket.socket:
    """Connect to host:port like `socket.create_connection`, to allowed addresses only.

    Without a policy, exactly `socket.create_connection`. With one, the host is resolved once
    (`NetworkPolicy.resolve`) and the connection goes to the addresses that were checked, in
    the resolver's order, never to a second answer.
    """
    if policy is None and not socket_options:
        return socket.create_connection((host, port), timeout, source_address)
    if policy is None:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    else:
        infos = policy.resolve(host, port)
    error: OSError | None = None
    for family, kind, proto, _canonical, sockaddr in infos:
        sock = None
        try:
            sock = socket.socket(family, kind, proto)
            for option in socket_options or ():
                sock.setsockopt(*option)
            if timeout is not None:
                sock.settimeout(timeout)
            if source_address:
                sock.bind(source_address)
            sock.connect(sockaddr)
            return sock
        except OSError as exc:
            error = exc
            if sock is not None:
                sock.close()
    raise error or OSError(f"getaddrinfo returned nothing for {host}")


# -- HTTP (requests, urllib3, exchangelib) ------------------------------------------------------

_http_policy: contextvars.ContextVar[NetworkPolicy | None] = contextvars.ContextVar(
    "http_network_policy", default=None
)


@contextmanager
def guarded_http(policy: NetworkPolicy | None) -> Iterator[None]:
    """Apply `policy` to HTTP connections opened in this context through a `GuardedAdapter`
    (or an adapter with `GuardedPools` mixed in)."""
    token = _http_policy.set(policy)
    try:
        yield
    finally:
        _http_policy.reset(token)


class _GuardedConnect:
    """urllib3's `_new_conn`, through `open_connection` when a policy is in force.

    TLS still verifies the certificate against the host name: only the socket is made here.
    """

    def _new_conn(self) -> socket.socket:
        policy = _http_policy.get()
        if policy is None:
            return super()._new_conn()
        timeout = None if self.timeout is _DEFAULT_TIMEOUT else self.timeout
        try:
            return open_connection(
                self._dns_host,
                self.port,
                timeout,
                policy,
                self.source_address,
                self.socket_options,
            )
        except socket.gaierror as exc:
            raise NameResolutionError(self.host, self, exc) from exc
        except TimeoutError as exc:
            raise ConnectTimeoutError(
                self, f"Connection to {self.host} timed out. (connect timeout={timeout})"
            ) from exc
        except OSError as exc:
            raise NewConnectionError(self, f"Failed to establish a new connection: {exc}") from exc


class GuardedHTTPConnection(_GuardedConnect, HTTPConnection):
    pass


class GuardedHTTPSConnection(_GuardedConnect, HTTPSConnection):
    pass


class GuardedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = GuardedHTTPConnection


class GuardedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = GuardedHTTPSConnection


class GuardedPools:
    """Mix into a requests HTTPAdapter: its connections honour `guarded_http`'s policy."""

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": GuardedHTTPConnectionPool,
            "https": GuardedHTTPSConnectionPool,
        }


class GuardedAdapter(GuardedPools, requests.adapters.HTTPAdapter):
    """A requests adapter whose connections honour `guarded_http`'s policy."""
