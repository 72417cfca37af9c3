"""Answer DNS queries for test zones from a loopback UDP port.

Code under test gets a real `dns.resolver.Resolver` pointed here (`FakeDnsServer.resolver()`),
so the whole DNS path (query, wire format, rcodes, timeouts) runs as in production without
touching the internet. Built on dnspython's own message and rrset classes.

    with FakeDnsServer() as server:
        server.add("acme.test", "MX", "10 aspmx.l.google.com.")
        server.fail("broken.test")   # SERVFAIL
        server.drop("slow.test")     # never answers: the resolver times out
        server.rebind("imap.acme.test", "A", "127.0.0.1", "127.0.0.2")  # 1st answer, then 2nd
        resolver = server.resolver()

`serve_system_lookups(monkeypatch, server)` answers `socket.getaddrinfo` (what imaplib,
asyncio and urllib3 resolve with) from the fake for names under .test, so code that connects
by name reaches the addresses the test gave them.

A name with no records at all gets NXDOMAIN; a name with records of other types gets an
empty NOERROR answer. Every query is logged in `queries` as (name, type) text pairs.
"""

from __future__ import annotations

import socket
import threading

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.resolver
import dns.rrset


class FakeDnsServer:
    """Serve records added with `add()` over UDP on 127.0.0.1 until stopped."""

    def __init__(self) -> None:
        self._records: dict[tuple[dns.name.Name, dns.rdatatype.RdataType], list[str]] = {}
        self._servfail: set[dns.name.Name] = set()
        self._silent: set[dns.name.Name] = set()
        self._later: dict[tuple[dns.name.Name, dns.rdatatype.RdataType], list[str]] = {}
        self._lock = threading.Lock()
        self.queries: list[tuple[str, str]] = []
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", 0))
        # Wake up regularly so stop() is noticed without a packet arriving.
        self._sock.settimeout(0.05)
        self.port: int = self._sock.getsockname()[1]
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="fake-dns", daemon=True)

    # -- zone data ---------------------------------------------------------------------

    def add(self, name: str, rdtype: str, *rdatas: str) -> None:
        """Add records in zone-file text ("10 mx.example.", "0 1 993 imap.example.")."""
        key = (_name(name), dns.rdatatype.from_text(rdtype))
        with self._lock:
            self._records.setdefault(key, []).extend(rdatas)

    def rebind(self, name: str, rdtype: str, first: str, then: str) -> None:
        """Answer the first query for `name` with `first` and every later one with `then`,
        as a DNS-rebinding attacker's server does."""
        key = (_name(name), dns.rdatatype.from_text(rdtype))
        with self._lock:
            self._records[key] = [first]
            self._later[key] = [then]

    def fail(self, name: str) -> None:
        """Answer every query for `name` with SERVFAIL."""
        with self._lock:
            self._servfail.add(_name(name))

    def drop(self, name: str) -> None:
        """Never answer queries for `name`, so resolvers time out."""
        with self._lock:
            self._silent.add(_name(name))

    def resolver(self, lifetime: float = 1.0) -> dns.resolver.Resolver:
        """Return a resolver that asks only this server, without reading resolv.conf."""
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = ["127.0.0.1"]
        resolver.port = self.port
        resolver.timeout = resolver.lifetime = lifetime
        return resolver

    def queried(self, rdtype: str | None = None) -> list[str]:
        """Return the names asked about so far, optionally only for one record type."""
        with self._lock:
            return [name for name, kind in self.queries if rdtype is None or kind == rdtype]

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> FakeDnsServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2)
        self._sock.close()

    def __enter__(self) -> FakeDnsServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- serving -----------------------------------------------------------------------

    def _serve(self) -> None:
        while not self._stopping.is_set():
            try:
                wire, client = self._sock.recvfrom(65535)
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                query = dns.message.from_wire(wire)
            except dns.exception.DNSException:
                continue  # not DNS: a real server would drop it too
            response = self._answer(query)
            if response is not None:
                self._sock.sendto(response.to_wire(), client)

    def _answer(self, query: dns.message.Message) -> dns.message.Message | None:
        question = query.question[0]
        name, rdtype = question.name, question.rdtype
        with self._lock:
            self.queries.append(
                (name.to_text(omit_final_dot=True).lower(), dns.rdatatype.to_text(rdtype))
            )
            if name in self._silent:
                return None
            response = dns.message.make_response(query)
            response.flags |= dns.flags.AA
            if name in self._servfail:
                response.set_rcode(dns.rcode.SERVFAIL)
            elif (name, rdtype) in self._records:
                response.answer.append(
                    dns.rrset.from_text_list(
                        name, 300, dns.rdataclass.IN, rdtype, self._records[name, rdtype]
                    )
                )
                if (name, rdtype) in self._later:
                    self._records[name, rdtype] = self._later.pop((name, rdtype))
            elif not any(owner == name for owner, _ in self._records):
                response.set_rcode(dns.rcode.NXDOMAIN)
        return response


def _name(text: str) -> dns.name.Name:
    # Names compare case-insensitively in dnspython; make them absolute like the queries.
    return dns.name.from_text(text.rstrip(".") + ".")


def serve_system_lookups(monkeypatch, server: FakeDnsServer, ports: dict[str, int] | None = None):
    """Answer `socket.getaddrinfo` for names under .test from `server` (A and AAAA records).

    A name without records fails like an unknown host; other names go to the system. `ports`
    maps names to the port their addresses are given with, whatever port was asked for (a
    client that always uses 443, like Autodiscover, then reaches a test server's port).
    """
    original = socket.getaddrinfo
    resolver = server.resolver()
    remap = {name.lower(): port for name, port in (ports or {}).items()}

    def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
        name = host.decode() if isinstance(host, bytes) else str(host or "")
        name = name.lower().rstrip(".")
        if not name.endswith(".test"):
            return original(host, port, family, type, proto, flags)
        port = remap.get(name, port)
        found = []
        for rdtype, af in (("A", socket.AF_INET), ("AAAA", socket.AF_INET6)):
            if family not in (0, af):
                continue
            try:
                answer = resolver.resolve(name + ".", rdtype, search=False)
            except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
                continue
            for record in answer:
                sockaddr = (record.address, int(port or 0)) + (
                    (0, 0) if af == socket.AF_INET6 else ()
                )
                found.append((af, type or socket.SOCK_STREAM, proto or 6, "", sockaddr))
        if not found:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return found

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
