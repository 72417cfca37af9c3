"""The networks tracking judges hits by: the shipped list, the rules that use it (a hit is
never judged by its user agent alone where its network can tell), and the refresh command,
from a file and from a URL served by a local HTTP server."""

import functools
import io
import threading
from datetime import UTC, datetime, timedelta
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.management import CommandError, call_command

from mailboxes.tracking import networks
from mailboxes.tracking.classify import Hit, classify

SENT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LATER = SENT + timedelta(hours=2)
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
)
SHIPPED = networks.Table(networks.parse(networks.SHIPPED.read_text()))


def hit(kind="open", ua=CHROME, ip="81.2.69.160"):
    return Hit(kind, 1, LATER, 1 if kind == "click" else None, ip, ua)


@pytest.mark.parametrize(
    ("case", "event", "reason", "detail"),
    [
        ("a browser's click from Microsoft's scanners", hit("click", ip="40.107.3.9"),
         "security_scanner", "Microsoft Defender for Office 365"),
        ("an open from Microsoft's scanners over IPv6", hit(ip="2a01:111:f400::5"),
         "security_scanner", "Microsoft Defender for Office 365"),
        ("a click from Barracuda's network", hit("click", ip="64.235.150.1"),
         "security_scanner", "Barracuda Email Protection"),
        ("Apple's proxy: the bare agent from Apple's", hit(ua="Mozilla/5.0", ip="17.58.0.1"),
         "privacy_proxy", "Apple Mail Privacy Protection"),
        ("Apple's proxy through a relay partner", hit(ua="Mozilla/5.0", ip="172.232.1.9"),
         "privacy_proxy", "Apple Mail Privacy Protection"),
        ("Outlook's bare agent from a person's network", hit(ua="Mozilla/5.0"), "human", ""),
        ("the bare agent where the network is unknown", hit(ua="Mozilla/5.0", ip=None),
         "privacy_proxy", "Apple Mail Privacy Protection"),
        ("Google's image proxy by its network", hit(ip="66.102.8.1"),
         "privacy_proxy", "Google image proxy"),
        ("a person's click through Apple's network is a person's", hit("click", ip="17.58.0.1"),
         "human", ""),
        ("a person", hit(), "human", ""),
    ],
    ids=lambda v: v if isinstance(v, str) and " " in v else "",
)  # fmt: skip
def test_networks_decide_before_the_user_agent(case, event, reason, detail):
    verdict = classify(event, SENT, [], opened=True, table=SHIPPED)
    assert (verdict.reason, verdict.detail) == (reason, detail)


def test_the_shipped_list_reads_and_looks_up_the_most_specific_network():
    table = networks.Table(
        networks.parse("10.0.0.0/8 privacy_proxy Wide\n10.1.0.0/16 security_scanner Narrow\n")
    )
    assert table.lookup("10.1.2.3").detail == "Narrow"
    assert table.lookup("10.2.2.3").detail == "Wide"
    assert table.lookup("11.0.0.1") is None and table.lookup("nonsense") is None
    assert SHIPPED.count > 20


@pytest.fixture
def var_dir(tmp_path, settings):
    settings.VAR_DIR = tmp_path / "var"
    networks.forget()
    yield settings.VAR_DIR
    networks.forget()


@pytest.fixture
def http_files(tmp_path):
    """A local HTTP server over a directory: the URL of each file written into it."""
    root = tmp_path / "served"
    root.mkdir()
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *args: None
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def refresh(*args) -> str:
    out = io.StringIO()
    call_command("tracking_networks_refresh", *args, stdout=out)
    return out.getvalue()


def test_refresh_from_a_url_and_a_file_adds_to_the_shipped_list(var_dir, http_files, tmp_path):
    root, base = http_files
    # A provider's published list: a CSV whose first column is the network.
    (root / "egress.csv").write_text("198.18.0.0/15,US,US-CA,Cupertino,\n2001:db8::/32,FR,,,\n")
    local = tmp_path / "scanners.txt"
    local.write_text("# ours\n192.0.2.0/24 security_scanner Acme gateway\n")
    assert networks.table().lookup("198.18.1.1") is None

    said = refresh(
        "--source", f"{base}/egress.csv", "--reason", "privacy_proxy",
        "--detail", "Apple Mail Privacy Protection",
    )  # fmt: skip
    assert "2 networks read" in said
    refresh("--source", str(local))
    table = networks.table()
    assert table.lookup("192.0.2.9").detail == "Acme gateway"
    assert table.lookup("40.107.3.9").detail == "Microsoft Defender for Office 365"
    assert (var_dir / "tracking-networks.txt").exists()
    # The refreshed list decides the next classification.
    verdict = classify(hit("click", ip="192.0.2.9"), SENT, [], opened=True)
    assert verdict.reason == "security_scanner"


def test_a_bad_source_writes_nothing_and_says_why(var_dir, http_files, tmp_path):
    root, base = http_files
    (root / "bad.txt").write_text("192.0.2.0/24 security_scanner Fine\nnot-a-network x y\n")
    with pytest.raises(CommandError, match="line 2"):
        refresh("--source", f"{base}/bad.txt")
    with pytest.raises(CommandError, match="404"):
        refresh("--source", f"{base}/missing.txt")
    with pytest.raises(CommandError, match="needs a reason"):
        (tmp_path / "bare.txt").write_text("192.0.2.0/24\n")
        refresh("--source", str(tmp_path / "bare.txt"))
    assert not (var_dir / "tracking-networks.txt").exists()
