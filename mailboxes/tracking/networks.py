"""The networks whose hits are not a person's: security scanners' and privacy proxies'.

The product ships a list (`networks.txt`, beside this file); `manage.py
tracking_networks_refresh --source FILE_OR_URL ...` writes a refreshed one to
`<CRM_VAR_DIR>/tracking-networks.txt` (the shipped networks plus the sources', each checked),
which every process then reads instead, within RELOAD_SECONDS. A source is a file or an
http(s) URL, so the refresh works offline from a downloaded copy; each line either names its
reason and detail (the shipped format) or is a bare CIDR, as in a provider's published list
(a CSV's first column too), given the reason and detail of the command's options.
"""

from __future__ import annotations

import ipaddress
import os
import time
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from mailboxes.models import TrackingReason

SHIPPED = Path(__file__).with_name("networks.txt")
RELOAD_SECONDS = 30
REASONS = (TrackingReason.SECURITY_SCANNER, TrackingReason.PRIVACY_PROXY)


def local_path() -> Path:
    return Path(settings.VAR_DIR) / "tracking-networks.txt"


@dataclass(frozen=True)
class Network:
    network: ipaddress.IPv4Network | ipaddress.IPv6Network
    reason: str
    detail: str

    def line(self) -> str:
        return f"{self.network} {self.reason} {self.detail}"


def parse(text: str, reason: str = "", detail: str = "", origin: str = "") -> list[Network]:
    """The networks of a list; a line that is not one raises ValueError naming it."""
    found = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if "," in line:  # a CSV: the network is the first column
            parts = [line.split(",", 1)[0].strip()]
        else:
            parts = line.split(None, 2)
        try:
            network = ipaddress.ip_network(parts[0], strict=False)
        except ValueError:
            raise ValueError(
                f"{origin or 'list'}, line {number}: {parts[0]!r} is no network"
            ) from None
        line_reason = parts[1] if len(parts) > 1 else reason
        line_detail = parts[2].strip() if len(parts) > 2 else detail
        if line_reason not in REASONS or not line_detail:
            raise ValueError(
                f"{origin or 'list'}, line {number}: needs a reason ({' or '.join(REASONS)}) "
                f"and a detail"
            )
        found.append(Network(network, line_reason, line_detail[:100]))
    return found


class Table:
    """Networks by prefix length: a lookup is one set probe per length in use."""

    def __init__(self, networks: list[Network]):
        self.count = len(networks)
        self._by_length: dict[tuple[int, int], dict[int, Network]] = {}
        for n in networks:
            key = (n.network.version, n.network.prefixlen)
            # The first listed wins for one network.
            self._by_length.setdefault(key, {}).setdefault(int(n.network.network_address), n)
        # Most specific first.
        self._lengths = sorted(self._by_length, key=lambda k: -k[1])

    def lookup(self, ip: str | None) -> Network | None:
        if not ip:
            return None
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return None
        value, bits = int(address), address.max_prefixlen
        for version, length in self._lengths:
            if version != address.version:
                continue
            masked = (value >> (bits - length)) << (bits - length)
            found = self._by_length[(version, length)].get(masked)
            if found is not None:
                return found
        return None


_current: tuple[float, float, Table] | None = None  # (checked at, file mtime, table)


def table() -> Table:
    """The networks in force: the refreshed list when there is one, else the shipped one."""
    global _current
    now = time.monotonic()
    if _current is not None and now - _current[0] < RELOAD_SECONDS:
        return _current[2]
    path = local_path()
    try:
        mtime = path.stat().st_mtime
    except OSError:
        path, mtime = SHIPPED, -1.0
    if _current is not None and _current[1] == mtime:
        _current = (now, mtime, _current[2])
        return _current[2]
    loaded = Table(parse(path.read_text(), origin=str(path)))
    _current = (now, mtime, loaded)
    return loaded


def forget() -> None:
    """Read the list again at the next lookup (after a refresh in this process)."""
    global _current
    _current = None


def write(networks: list[Network]) -> Path:
    """Write the refreshed list (the shipped networks first), atomically; return its path."""
    path = local_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    seen, lines = set(), []
    for n in parse(SHIPPED.read_text(), origin=str(SHIPPED)) + networks:
        if n.network not in seen:
            seen.add(n.network)
            lines.append(n.line())
    temporary = path.with_suffix(".tmp")
    temporary.write_text(
        "# Refreshed by manage.py tracking_networks_refresh\n" + "\n".join(lines) + "\n"
    )
    os.replace(temporary, path)
    forget()
    return path
