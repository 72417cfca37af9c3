"""The network defaults of server detection (servers.py): an HTTP GET of an autoconfig file,
bounded in size and redirects, and a TCP probe that reads a server's greeting, both under the
network policy for user-named servers."""

from __future__ import annotations

import socket
import ssl
import time
from typing import Literal
from urllib.parse import urljoin, urlsplit

import requests

from mailboxes.providers import (
    GuardedAdapter,
    NetworkPolicy,
    guarded_http,
    open_connection,
)
from mailboxes.providers.base import (
    Security,
)

# The connect form waits on these while the user watches a spinner (DNS: mailboxes/dns.py).
PROBE_TIMEOUT = 2.0
HTTP_TIMEOUT = 3.0
# A clientConfig file is a few KB; anything far larger is not one.
MAX_AUTOCONFIG_BYTES = 256 * 1024
MAX_REDIRECTS = 3

Protocol = Literal["imap", "smtp"]


def fetch_url(url: str, timeout: float, network: NetworkPolicy | None = None) -> tuple[int, bytes]:
    """GET `url` and return (status, body), following up to 3 redirects that stay https.

    Raise OSError on network failure (requests' exceptions are OSErrors) and ValueError for
    a body over MAX_AUTOCONFIG_BYTES. Certificates are verified: the autoconfig answer is
    trusted only because of them. With `network`, every connection (redirects included) goes
    only to addresses the policy allows.
    """
    with requests.Session() as session, guarded_http(network):
        session.mount("https://", GuardedAdapter())
        session.mount("http://", GuardedAdapter())
        return _fetch(session, url, timeout)


def _fetch(session: requests.Session, url: str, timeout: float) -> tuple[int, bytes]:
    for _ in range(MAX_REDIRECTS + 1):
        with session.get(url, timeout=timeout, allow_redirects=False, stream=True) as response:
            location = response.headers.get("Location")
            if response.is_redirect and location:
                url = urljoin(url, location)
                if urlsplit(url).scheme != "https":
                    return response.status_code, b""
                continue
            body = b""
            # iter_content turns urllib3's read errors into requests' (OSError) ones.
            for chunk in response.iter_content(chunk_size=16384):
                body += chunk
                if len(body) > MAX_AUTOCONFIG_BYTES:
                    raise ValueError(f"{url} returned more than {MAX_AUTOCONFIG_BYTES} bytes")
            return response.status_code, body
    return 310, b""  # too many redirects; any non-200 status is ignored by the caller


def probe_server(
    host: str,
    port: int,
    security: Security,
    protocol: Protocol,
    *,
    timeout: float = PROBE_TIMEOUT,
    network: NetworkPolicy | None = None,
) -> bool:
    """Connect to host:port and return whether it greets like an IMAP or SMTP server.

    "ssl" does the TLS handshake first (the greeting is inside it); "starttls" and "none"
    read the plain-text greeting. The certificate is not checked here: this only finds the
    server, and verifying the connection later reports a bad certificate to the user.
    """
    deadline = time.monotonic() + timeout
    try:
        with open_connection(host, port, timeout, network) as sock:
            if security == "ssl":
                context = ssl.create_default_context()
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
                with context.wrap_socket(sock, server_hostname=host) as tls:
                    return greeting_ok(_read_line(tls, deadline), protocol)
            return greeting_ok(_read_line(sock, deadline), protocol)
    except (OSError, ValueError):
        return False


def greeting_ok(line: bytes, protocol: Protocol) -> bool:
    """Return whether a server's first line is an IMAP ("* OK") or SMTP ("220") greeting."""
    if protocol == "imap":
        return line[:4].upper() == b"* OK"
    return line[:3] == b"220" and line[3:4] in (b" ", b"-", b"\r", b"\n", b"")


def _read_line(sock: socket.socket, deadline: float) -> bytes:
    # Bounded in size and time, so a server that trickles bytes can't hold the request.
    data = b""
    while b"\n" not in data and len(data) < 512:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        sock.settimeout(remaining)
        chunk = sock.recv(512)
        if not chunk:
            break
        data += chunk
    return data.split(b"\n", 1)[0]
