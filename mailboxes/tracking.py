"""Open and click tracking: instrument outgoing HTML, classify hits, store them in batches.

`instrument()` rewrites every http(s) link of an email about to be queued into a signed click
URL (one TrackedLink row per link) and appends a signed 1x1 open pixel. The endpoints
(`views/tracking.py`) verify the token, hand the hit to `record_event()` and answer at once,
without a database query.

Where hits go. With Redis (TRACKING_BUFFER "redis", the default when REDIS_URL is set) a hit
is appended to its web process's buffer, which a background thread pushes to a Redis stream
every PUSH_SECONDS as one entry; `flush_events()` (a periodic task) classifies and writes the
stream in batches (COPY for the events, one UPDATE for the rollups), advancing a cursor row in
the same transaction, so a flush that dies is neither lost nor repeated. Without Redis (the
embedded `make run` setup) the hit is classified and written by the request. Measured with
`make bench` (tracking_open / tracking_click, gunicorn sync x2, wrk -c16), against a bare view
answering the same bytes: written by the request, ~6% of the bare view's rate (a classified
transaction a hit); one redis-py XADD a request, ~40%; the process buffer, at par within noise.

Classification (`classify()`) is a pure function over the hit, the message's send time and
its recent clicks, so every rule is table-tested; the rules, each with why, are listed above
it. Only "human" hits count in timelines and reports (RPT-2); the others are kept, with a
detail, so a rep can still see what happened to the email.

A hit never has a side effect beyond its event row and the rollup: nothing here unsubscribes
anyone or ends a sequence, and the privacy app's preference links are never rewritten, so a
scanner that follows every link in an email only ever reaches the pages it would anyway.
"""

from __future__ import annotations

import atexit
import base64
import binascii
import hashlib
import hmac
import html
import ipaddress
import itertools
import logging
import os
import re
import threading
import time
from collections import defaultdict, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from urllib.parse import urlsplit

from django.conf import settings
from django.core.signals import setting_changed
from django.db import connection, transaction
from django.db.models.functions import Coalesce
from django.dispatch import receiver
from django.urls import reverse
from django.utils.crypto import salted_hmac

from .models import (
    EmailMessage,
    TrackedLink,
    TrackingCursor,
    TrackingEvent,
    TrackingKind,
    TrackingReason,
    TrackingRollup,
)

# --- Tokens -------------------------------------------------------------------------------
#
# A token is base64url(payload + MAC). The payload is the ids, each as a length byte and its
# big-endian bytes, and for a click the target URL after them; the MAC is the first 16 bytes
# (128 bits) of an HMAC-SHA256 under a key derived from SECRET_KEY, over a kind byte (an open
# token is never a click token) and the payload. So a click token binds the message, the
# TrackedLink row and the exact URL: change any of them and it verifies as nothing.
#
# The URL travels in the click token instead of being looked up: the redirect needs no
# database read (measured: a read per click cost more than the whole bare view under wrk), and
# a recipient's links keep working even after the email is deleted from the CRM. The price is
# a longer link, about 4/3 of the URL's length plus 30 characters.
#
# Tokens never expire: links in sent email must keep working. SECRET_KEY_FALLBACKS verify
# tokens made before a key rotation.

MAC_BYTES = 16
_SALT = "mailboxes.tracking.token"
_TOKEN_CHARS = re.compile(r"[A-Za-z0-9_-]{22,4096}")


@lru_cache(maxsize=8)
def _key(secret: str) -> tuple:
    """HMAC-SHA256 under a key derived from `secret`, with its pads hashed once.

    Verifying a token is then two copies of a SHA-256 state and two short updates: measured
    inside the full request, hmac.digest() (OpenSSL's one-shot, which sets the MAC up on every
    call) took ~23 µs, a tenth of the bare view, and this ~2 µs.
    """
    key = salted_hmac(_SALT, "tracking-token-key", secret=secret, algorithm="sha256").digest()
    block = key.ljust(hashlib.sha256().block_size, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in block))
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in block))
    return inner, outer


def _mac(key: tuple, data: bytes) -> bytes:
    inner, outer = key[0].copy(), key[1].copy()
    inner.update(data)
    outer.update(inner.digest())
    return outer.digest()[:MAC_BYTES]


def _verified(data: bytes, mac: bytes) -> bool:
    if hmac.compare_digest(_mac(_key(settings.SECRET_KEY), data), mac):
        return True
    return any(
        hmac.compare_digest(_mac(_key(secret), data), mac)
        for secret in settings.SECRET_KEY_FALLBACKS
    )


def _pack(*ids: int) -> bytes:
    out = bytearray()
    for value in ids:
        raw = value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big")
        out.append(len(raw))
        out += raw
    return bytes(out)


def _sign(kind: bytes, payload: bytes) -> str:
    mac = _mac(_key(settings.SECRET_KEY), kind + payload)
    return base64.urlsafe_b64encode(payload + mac).rstrip(b"=").decode("ascii")


def _open_signed(kind: bytes, token: str, count: int) -> tuple[tuple[int, ...], bytes] | None:
    """Return (ids, the rest of the payload) of a token that verifies, else None."""
    if not _TOKEN_CHARS.fullmatch(token):
        return None
    try:
        data = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        return None
    payload, mac = data[:-MAC_BYTES], data[-MAC_BYTES:]
    if len(mac) != MAC_BYTES or not _verified(kind + payload, mac):
        return None
    ids, at = [], 0
    for _ in range(count):
        size = payload[at] if at < len(payload) else 0
        if not 1 <= size <= 8 or at + 1 + size > len(payload):
            return None
        ids.append(int.from_bytes(payload[at + 1 : at + 1 + size], "big"))
        at += 1 + size
    return tuple(ids), payload[at:]


def open_token(message_id: int) -> str:
    return _sign(b"o", _pack(message_id))


def click_token(message_id: int, link_id: int, url: str) -> str:
    return _sign(b"c", _pack(message_id, link_id) + url.encode())


def verify_open_token(token: str) -> int | None:
    """Return the message id an open token was signed for, or None for anything else."""
    opened = _open_signed(b"o", token, 1)
    if opened is None or opened[1]:
        return None
    return opened[0][0]


@dataclass(frozen=True)
class ClickTarget:
    message_id: int
    link_id: int
    url: str


def verify_click_token(token: str) -> ClickTarget | None:
    """Return what a click token was signed for (message, link, URL), or None: never a URL
    the product did not sign."""
    opened = _open_signed(b"c", token, 2)
    if opened is None:
        return None
    (message_id, link_id), rest = opened
    try:
        url = rest.decode()
    except UnicodeDecodeError:
        return None
    if not url[:8].lower().startswith(("https://", "http://")):
        return None  # only ever signed for http(s); never hand the redirect anything else
    return ClickTarget(message_id, link_id, url)


# --- Instrumenting outgoing HTML ----------------------------------------------------------

# An <a> start tag (quoted attribute values may hold ">"), or a comment to step over.
_A_TAG = re.compile(r"<!--.*?-->|<a\b(?:[^>\"']|\"[^\"]*\"|'[^']*')*>", re.IGNORECASE | re.DOTALL)
# One attribute of a start tag, its value consumed whole, so an "href=" inside another
# attribute's quoted value is never taken for the link.
_ATTR = re.compile(r"""([^\s"'>/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?""")
_BODY_END = re.compile(r"</body\s*>", re.IGNORECASE)
# Longer targets stay as they are: a redirect that long is refused by some clients anyway.
MAX_TRACKED_URL = 2048


def _trackable(url: str) -> bool:
    """Only absolute http(s) links to somewhere else are rewritten.

    Left alone: mailto:, tel:, anchors, relative URLs, the privacy app's preferences and
    one-click unsubscribe links (a scanner must never reach them through us, and they carry
    their own signed token), and links that are already tracking links.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return False
    if len(url) > MAX_TRACKED_URL:
        return False
    base = settings.CRM_BASE_URL
    return not (url.startswith(f"{base}/preferences/") or url.startswith(f"{base}/t/"))


def _href(tag: str) -> re.Match | None:
    """The href attribute of an <a> start tag, if it has a value."""
    for attr in _ATTR.finditer(tag, 2):  # after "<a"
        if attr.group(1).lower() == "href":
            return attr if attr.lastindex and attr.lastindex > 1 else None
    return None


def _absolute(path: str) -> str:
    return f"{settings.CRM_BASE_URL}{path}"


def _pixel(message_id: int) -> str:
    src = _absolute(reverse("tracking:open", args=[open_token(message_id)]))
    return (
        f'<img src="{src}" width="1" height="1" alt="" '
        'style="display:block;width:1px;height:1px;border:0;">'
    )


def instrument(html_text: str, message: EmailMessage) -> str:
    """Return the HTML with signed click links and a signed open pixel for `message`.

    `message` must be saved. Call inside the transaction that queues the email: the
    TrackedLink rows and the (zero) rollup are written here. Instrumenting the same message
    again (an edited scheduled email) adds new link rows after the old ones, so a token in a
    version already built still resolves.
    """
    found: list[tuple[re.Match, re.Match, str]] = []
    for tag in _A_TAG.finditer(html_text):
        if tag.group(0).startswith("<!--"):
            continue
        href = _href(tag.group(0))
        if href is None:
            continue
        raw = next(g for g in href.groups()[1:] if g is not None)
        url = html.unescape(raw).strip()
        if _trackable(url):
            found.append((tag, href, url))

    start = 0
    if found:
        last = (
            TrackedLink.objects.filter(message=message)
            .order_by("-position")
            .values_list("position", flat=True)
            .first()
        )
        start = 0 if last is None else last + 1
    links = TrackedLink.objects.bulk_create(
        [
            TrackedLink(message=message, position=start + i, url=url)
            for i, (_, _, url) in enumerate(found)
        ]
    )
    TrackingRollup.objects.bulk_create([TrackingRollup(message=message)], ignore_conflicts=True)

    out, at = [], 0
    for (tag, href, _), link in zip(found, links, strict=True):
        click = _absolute(
            reverse("tracking:click", args=[click_token(message.pk, link.pk, link.url)])
        )
        begin = tag.start() + href.start()
        out.append(html_text[at:begin])
        out.append(f'href="{click}"')
        at = tag.start() + href.end()
    out.append(html_text[at:])
    result = "".join(out)

    pixel = _pixel(message.pk)
    ends = list(_BODY_END.finditer(result))
    if ends:
        cut = ends[-1].start()
        return result[:cut] + pixel + result[cut:]
    return result + pixel


# --- Classification -----------------------------------------------------------------------


@dataclass
class Hit:
    """One request on a tracking endpoint (new), or an event already stored (with `pk`)."""

    kind: str
    message_id: int
    at: datetime
    link_id: int | None = None
    ip: str | None = None
    user_agent: str = ""
    reason: str = ""
    detail: str = ""
    pk: int | None = None


@dataclass(frozen=True)
class Verdict:
    reason: str
    detail: str = ""
    # Earlier clicks of the same burst that were taken for a person's: re-mark them too.
    remark: tuple[Hit, ...] = field(default=())
    remark_detail: str = ""


# A hit this soon after the send (or before the send was even recorded) is a machine: mail
# gateways and MPP fetch on delivery, people take longer to open an email and click in it.
PREFETCH_SECONDS = 10
# Different links of one message clicked this close together from one address: a scanner
# following every link. People go back to their mail client between two links.
BURST_SECONDS = 2.0
# How many of a message's latest clicks a burst is looked for in.
RECENT_EVENTS = 50

# Image proxies that fetch for the recipient and hide them: the open may be real but its
# time, count and address are the proxy's. Matched on the lower-cased user agent.
# - Google (Gmail web and apps) fetches through "... (via ggpht.com GoogleImageProxy)".
# - Yahoo and AOL fetch through "YahooMailProxy".
_PROXY_AGENTS = (
    ("googleimageproxy", "Google image proxy"),
    ("ggpht.com", "Google image proxy"),
    ("yahoomailproxy", "Yahoo Mail image proxy"),
)
# Apple Mail Privacy Protection preloads every remote image on delivery, through Apple's
# relays, whether or not the email is read. What we rely on: its requests carry the bare user
# agent "Mozilla/5.0" (no real browser or mail client sends just that), and opens from Apple's
# own 17.0.0.0/8 (no person's client fetches an email image from inside Apple's network
# except Apple's). MPP's relays also egress from partner CDNs; those are caught by the bare
# user agent, not the address.
_APPLE_MPP_AGENT = "mozilla/5.0"
_APPLE_NETWORK = ipaddress.ip_network("17.0.0.0/8")
# Security gateways that fetch every link (and often every image) before the person sees the
# email, matched on the lower-cased user agent; the first match names the detail.
_SCANNER_AGENTS = (
    ("proofpoint", "Proofpoint URL Defense"),
    ("ppops", "Proofpoint URL Defense"),
    ("mimecast", "Mimecast URL Protect"),
    ("barracuda", "Barracuda Link Protection"),
    ("cudasvc", "Barracuda Link Protection"),
    ("safelinks", "Microsoft Safe Links"),
    ("ironport", "Cisco Secure Email"),
    ("cisco", "Cisco Secure Email"),
    ("trendmicro", "Trend Micro Email Security"),
    ("trend micro", "Trend Micro Email Security"),
    ("symantec", "Symantec Email Security"),
    ("messagelabs", "Symantec Email Security"),
    ("fortimail", "FortiMail"),
    ("sophos", "Sophos Email"),
    ("vadesecure", "Vade Secure"),
    ("headlesschrome", "headless browser"),
    ("phantomjs", "headless browser"),
    ("python-requests", "HTTP library"),
    ("python-urllib", "HTTP library"),
    ("aiohttp", "HTTP library"),
    ("python-httpx", "HTTP library"),
    ("curl/", "HTTP library"),
    ("wget/", "HTTP library"),
    ("go-http-client", "HTTP library"),
    ("okhttp", "HTTP library"),
    ("java/", "HTTP library"),
    ("apache-httpclient", "HTTP library"),
    ("libwww-perl", "HTTP library"),
    ("node-fetch", "HTTP library"),
    ("axios/", "HTTP library"),
)
# Link-preview fetchers (a link pasted into chat) act for nobody in particular: pre-fetchers.
_PREFETCH_AGENTS = (
    ("slackbot", "Slack link preview"),
    ("facebookexternalhit", "link preview"),
    ("linkedinbot", "LinkedIn link preview"),
    ("twitterbot", "link preview"),
    ("discordbot", "Discord link preview"),
    ("telegrambot", "Telegram link preview"),
    ("whatsapp", "WhatsApp link preview"),
    ("skypeuripreview", "Microsoft Teams / Skype link preview"),
)
# Whatever else calls itself a robot.
_BOT_WORDS = re.compile(r"bot\b|bot/|crawler|spider|scanner|monitor", re.IGNORECASE)
# Microsoft Office's own HTTP client: Outlook desktop loads images with it when a person opens
# an email (a real open), while a *click* with it is Office checking the link (Safe Links,
# link previews); people's clicks open in their browser.
_OFFICE_AGENTS = ("microsoft office", "ms-office", "msoffice")
# What every browser's user agent has: "Mozilla/5.0 (platform) Engine/...". A click from
# anything else, before any open, is a program following links.
_BROWSER = re.compile(r"^Mozilla/5\.0 \([^)]+\).*\b(AppleWebKit|Gecko|Trident)/", re.IGNORECASE)


def _in_apple_network(ip: str | None) -> bool:
    if not ip:
        return False
    try:
        return ipaddress.ip_address(ip) in _APPLE_NETWORK
    except ValueError:
        return False


def _by_agent(hit: Hit) -> Verdict | None:
    agent = hit.user_agent.strip().lower()
    if not agent:
        return Verdict(TrackingReason.SECURITY_SCANNER, "no user agent")
    for needle, detail in _PROXY_AGENTS:
        if needle in agent:
            return Verdict(TrackingReason.PRIVACY_PROXY, detail)
    if hit.kind == TrackingKind.OPEN and (agent == _APPLE_MPP_AGENT or _in_apple_network(hit.ip)):
        return Verdict(TrackingReason.PRIVACY_PROXY, "Apple Mail Privacy Protection")
    for needle, detail in _SCANNER_AGENTS:
        if needle in agent:
            return Verdict(TrackingReason.SECURITY_SCANNER, detail)
    for needle, detail in _PREFETCH_AGENTS:
        if needle in agent:
            return Verdict(TrackingReason.PREFETCH, detail)
    if hit.kind == TrackingKind.CLICK and any(office in agent for office in _OFFICE_AGENTS):
        return Verdict(TrackingReason.SECURITY_SCANNER, "Microsoft Office link check")
    if _BOT_WORDS.search(agent):
        return Verdict(TrackingReason.SECURITY_SCANNER, "automated client")
    return None


def _burst(hit: Hit, recent: Sequence[Hit]) -> list[Hit]:
    """The other clicks forming a burst over different links with this one (or none).

    Within BURST_SECONDS either way: hits from several web processes reach the database in
    batches, not strictly in order.
    """
    window = timedelta(seconds=BURST_SECONDS)
    members = []
    # The newest RECENT_EVENTS only: a flood on one message must not make every
    # classification scan the whole flood.
    for event in itertools.islice(reversed(recent), RECENT_EVENTS):
        if (
            event is not hit
            and event.kind == TrackingKind.CLICK
            and event.ip == hit.ip
            and abs(event.at - hit.at) <= window
        ):
            members.append(event)
    if any(m.link_id != hit.link_id for m in members):
        return members
    return []


def classify(
    hit: Hit, sent_at: datetime | None, recent: Sequence[Hit], *, opened: bool | None = None
) -> Verdict:
    """Say who (probably) made a hit: a person, a privacy proxy, a scanner or a pre-fetcher.

    `recent` holds the message's other events, oldest first (the caller passes at least its
    clicks within BURST_SECONDS of this hit); `opened` says whether a person or a privacy
    proxy opened the message before (derived from `recent` when not given). The first rule
    that matches decides; a click that makes a burst over different links also re-marks the
    other clicks of that burst that were taken for a person's.

    1. The user agent names a privacy proxy, a security gateway, an HTTP library, a link
       previewer or a robot, or is missing (see the tables above for each one's why).
    2. The hit came within PREFETCH_SECONDS of the send.
    3. A click within BURST_SECONDS of a click on a different link from the same address:
       every link clicked at once.
    4. A click before any open, from something that is not a browser.
    5. Otherwise, a person.
    """
    verdict = _by_agent(hit)
    if verdict is None and sent_at is not None:
        delay = (hit.at - sent_at).total_seconds()
        if delay < PREFETCH_SECONDS:
            verdict = Verdict(TrackingReason.PREFETCH, f"within {max(0, int(delay))} s of sending")
    members = _burst(hit, recent) if hit.kind == TrackingKind.CLICK else []
    remark = tuple(m for m in members if m.reason == TrackingReason.HUMAN)
    burst = ""
    if members:
        links = len({m.link_id for m in members} | {hit.link_id})
        burst = f"{links} links clicked within {BURST_SECONDS:g} s"
        if verdict is None:
            verdict = Verdict(TrackingReason.SECURITY_SCANNER, burst)
    if verdict is None and hit.kind == TrackingKind.CLICK:
        if opened is None:
            opened = any(
                e.kind == TrackingKind.OPEN
                and e.reason in (TrackingReason.HUMAN, TrackingReason.PRIVACY_PROXY)
                for e in recent
            )
        if not opened and not _BROWSER.match(hit.user_agent.strip()):
            verdict = Verdict(TrackingReason.SECURITY_SCANNER, "click before any open, no browser")
    if verdict is None:
        verdict = Verdict(TrackingReason.HUMAN)
    if remark:
        verdict = Verdict(verdict.reason, verdict.detail, remark, burst)
    return verdict


# --- Recording ----------------------------------------------------------------------------

USER_AGENT_MAX = TrackingEvent._meta.get_field("user_agent").max_length
_OPENING = (TrackingReason.HUMAN, TrackingReason.PRIVACY_PROXY)
logger = logging.getLogger(__name__)

# Each web process collects hits and pushes them to the Redis stream every PUSH_SECONDS, or at
# once when PUSH_AT are waiting, from a background thread; a request only appends to a deque.
# Measured on these machines: one XADD per request through redis-py costs ~230 µs, about as
# much as the bare GIF view itself, which put the endpoint at ~40% of the bare view's rate
# under wrk. The price: a web process killed outright (SIGKILL, OOM) loses its last
# PUSH_SECONDS of hits, the same order as Redis's own window without AOF. A normal stop
# (gunicorn's SIGTERM/SIGQUIT, max-requests, reload) pushes them at exit.
PUSH_SECONDS = 0.5
PUSH_AT = 200
# While Redis is unreachable a process keeps at most this many hits, dropping the oldest.
PROCESS_BUFFER_MAX = 50_000
# Past this many unflushed entries (days without a flusher at real traffic) Redis drops the
# oldest rather than run out of memory.
STREAM_MAX_LENGTH = 1_000_000
# Hits in one stream entry at most, and entries read at a time by the flush.
ENTRY_MAX = 1000
ENTRIES_READ = 50


_config: dict[str, str] = {}


def _buffer_mode() -> str:
    """Return "redis" (buffered, flushed in batches) or "direct" (written by the request)."""
    # Read once per process (again when a test overrides a setting): a setting that is not
    # there would otherwise cost an exception on every request.
    mode = _config.get("mode")
    if mode is None:
        mode = getattr(settings, "TRACKING_BUFFER", None)
        if mode is None:
            mode = "redis" if getattr(settings, "REDIS_URL", "") else "direct"
        _config["mode"] = mode
    return mode


def _stream_key() -> str:
    key = _config.get("stream")
    if key is None:
        key = _config["stream"] = getattr(settings, "TRACKING_STREAM", "crm:tracking:events")
    return key


@receiver(setting_changed)
def _settings_changed(**kwargs):
    _config.clear()


_redis_clients: dict[str, object] = {}


def _redis():
    # One client (and connection pool) per process and URL.
    url = getattr(settings, "TRACKING_REDIS_URL", "") or settings.REDIS_URL
    client = _redis_clients.get(url)
    if client is None:
        import redis

        client = _redis_clients[url] = redis.Redis.from_url(url)
    return client


class _ProcessBuffer:
    """Hits waiting in this process for the next push to the Redis stream.

    A deque: append and popleft are atomic, so the request path and the push thread share it
    without a lock, and once it is full (Redis away for long) the oldest hits give way.
    """

    def __init__(self):
        self.forked()

    def forked(self) -> None:
        # A forked child starts empty (its parent sends what it held) and makes its own thread.
        self.items: deque[str] = deque(maxlen=PROCESS_BUFFER_MAX)
        self.wake = threading.Event()
        self.starting = threading.Lock()
        self.thread: threading.Thread | None = None
        self.dropped = 0

    def add(self, item: str) -> None:
        if self.thread is None:
            self._start()
        items = self.items
        if len(items) >= PUSH_AT:
            if len(items) == PROCESS_BUFFER_MAX:
                self.dropped += 1
            self.wake.set()
        items.append(item)

    def _start(self) -> None:
        with self.starting:
            if self.thread is None:
                self.thread = threading.Thread(target=self._run, name="tracking-push", daemon=True)
                self.thread.start()
                atexit.register(self.push)

    def _run(self) -> None:
        while True:
            self.wake.wait(PUSH_SECONDS)
            self.wake.clear()
            self.push()

    def push(self) -> int:
        """Send what is waiting, one round trip; on failure keep it for the next try."""
        items, pop = [], self.items.popleft
        try:
            while True:
                items.append(pop())
        except IndexError:
            pass
        dropped, self.dropped = self.dropped, 0
        if dropped:
            logger.error("tracking: buffer full, dropped %d hits (is Redis reachable?)", dropped)
        if not items:
            return 0
        try:
            # All or nothing (MULTI/EXEC), so a retry never doubles hits; entries of at most
            # ENTRY_MAX hits keep a flush batch bounded after an outage.
            pipe = _redis().pipeline()
            for start in range(0, len(items), ENTRY_MAX):
                pipe.xadd(
                    _stream_key(),
                    {"h": "\n".join(items[start : start + ENTRY_MAX])},
                    maxlen=STREAM_MAX_LENGTH,
                    approximate=True,
                )
            pipe.execute()
        except Exception:
            logger.warning("tracking: could not push %d hits to Redis", len(items), exc_info=True)
            self.items.extendleft(reversed(items))
            return 0
        return len(items)


_buffer = _ProcessBuffer()
os.register_at_fork(after_in_child=_buffer.forked)


def push_buffered() -> int:
    """Push this process's waiting hits to Redis now (tests, the benchmark); return how many."""
    return _buffer.push()


def record_event(
    kind: str,
    message_id: int,
    *,
    link_id: int | None = None,
    ip: str | None = None,
    user_agent: str = "",
    at: datetime | None = None,
) -> None:
    """Record one verified hit: buffered for the next batch, or written now without Redis.

    The caller has verified the token; this records, it never acts on the hit.
    """
    user_agent = user_agent[:USER_AGENT_MAX]
    if _buffer_mode() == "redis":
        # One line a hit; the user agent goes last, so it may hold the separator.
        stamp = at.timestamp() if at else time.time()
        agent = user_agent.replace("\n", " ").replace("\r", " ")
        address = (ip or "").replace("\t", "")[:45]
        _buffer.add(f"{kind[0]}\t{message_id}\t{link_id or 0}\t{stamp:.6f}\t{address}\t{agent}")
        return
    hit = Hit(
        kind=kind,
        message_id=message_id,
        at=at or datetime.now(UTC),
        link_id=link_id,
        ip=_valid_ip(ip),
        user_agent=user_agent,
    )
    with transaction.atomic():
        write_events([hit])


def _valid_ip(value: str | None) -> str | None:
    # Checked here, in the flush, not on the request path; one bad value must not fail a COPY.
    if not value:
        return None
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def _from_entry(data: bytes) -> list[Hit]:
    hits = []
    for line in data.decode("utf-8", "replace").split("\n"):
        try:
            kind, message_id, link_id, stamp, ip, agent = line.split("\t", 5)
            hits.append(
                Hit(
                    kind=TrackingKind.OPEN if kind == "o" else TrackingKind.CLICK,
                    message_id=int(message_id),
                    link_id=int(link_id) or None,
                    at=datetime.fromtimestamp(float(stamp), UTC),
                    ip=_valid_ip(ip),
                    user_agent=agent,
                )
            )
        except ValueError:
            # Skipped, not retried: a line that cannot be read would stop every later flush.
            logger.error("tracking: unreadable buffered hit %r", line[:200])
    return hits


def flush_events(batch_size: int = 1000, max_batches: int | None = None) -> int:
    """Write the buffered hits to the database in batches; return how many were written.

    Run it every few seconds (a periodic task). Idempotent and safe from several workers at
    once: the cursor row is locked for the batch and advanced in the same transaction as the
    events, so each stream entry is written exactly once; the stream is trimmed only after
    the commit. A batch is whole stream entries adding up to about `batch_size` hits.
    """
    if _buffer_mode() != "redis":
        return 0
    client, key = _redis(), _stream_key()
    total = batches = 0
    while max_batches is None or batches < max_batches:
        with transaction.atomic():
            TrackingCursor.objects.get_or_create(stream=key)
            cursor = TrackingCursor.objects.select_for_update().get(stream=key)
            entries = client.xrange(key, min=f"({cursor.last_id}", max="+", count=ENTRIES_READ)
            if not entries:
                break
            hits: list[Hit] = []
            taken = 0
            # Whole entries only (the cursor is an entry id), about batch_size hits in all.
            for _, fields in entries:
                hits += _from_entry(fields.get(b"h", b""))
                taken += 1
                if len(hits) >= batch_size:
                    break
            if hits:
                write_events(hits)
            cursor.last_id = entries[taken - 1][0].decode()
            cursor.save(update_fields=["last_id", "updated_at"])
        client.xtrim(key, minid=cursor.last_id)
        total += len(hits)
        batches += 1
        if taken == len(entries) and len(entries) < ENTRIES_READ:
            break
    return total


def _recent_clicks(message_ids: list[int], since: datetime) -> dict[int, list[Hit]]:
    """The messages' stored clicks from `since` on, oldest first (what bursts are made of)."""
    recent: dict[int, list[Hit]] = defaultdict(list)
    rows = (
        TrackingEvent.objects.filter(
            message_id__in=message_ids, kind=TrackingKind.CLICK, at__gte=since
        )
        .order_by("message_id", "at", "id")
        .values_list("id", "message_id", "kind", "link_id", "at", "ip", "user_agent", "reason")
    )
    for pk, message_id, kind, link_id, at, ip, agent, reason in rows:
        recent[message_id].append(Hit(kind, message_id, at, link_id, ip, agent, reason, pk=pk))
    return recent


def _opened(message_ids: list[int]) -> set[int]:
    """Those of the messages a person or a privacy proxy has opened."""
    if not message_ids:
        return set()
    return set(
        TrackingEvent.objects.filter(
            message_id__in=message_ids, kind=TrackingKind.OPEN, reason__in=_OPENING
        )
        .values_list("message_id", flat=True)
        .distinct()
    )


def write_events(hits: list[Hit]) -> int:
    """Classify hits and store them with their rollups; return how many were stored.

    Call inside a transaction. Hits for messages (or links) that no longer exist are
    dropped: one of them must not fail the batch at commit, and every later flush with it.
    The rollup rows of the messages are locked first, so concurrent writers of one message
    (the unbuffered mode) take turns and a burst's re-marking is counted once.
    """
    message_ids = sorted({h.message_id for h in hits})
    sent_at = dict(
        EmailMessage.objects.filter(pk__in=message_ids)
        .annotate(sent=Coalesce("outbound__sent_at", "sent_at"))
        .values_list("pk", "sent")
    )
    link_ids = {h.link_id for h in hits if h.link_id is not None}
    links = set(TrackedLink.objects.filter(pk__in=link_ids).values_list("pk", flat=True))
    hits = [
        h for h in hits if h.message_id in sent_at and (h.link_id is None or h.link_id in links)
    ]
    message_ids = sorted({h.message_id for h in hits})
    if not message_ids:
        return 0
    _ensure_rollups(message_ids)
    rollups = {
        r.pk: r
        for r in TrackingRollup.objects.select_for_update()
        .filter(message_id__in=message_ids)
        .order_by("pk")
    }
    # Only clicks look back: at a burst (stored clicks close to the batch's) and at whether
    # the message was opened before.
    hits.sort(key=lambda h: h.at)
    clicked = sorted({h.message_id for h in hits if h.kind == TrackingKind.CLICK})
    recent = _recent_clicks(clicked, hits[0].at - timedelta(seconds=BURST_SECONDS))
    opened = _opened(clicked)

    new: list[Hit] = []
    remarked: dict[int, Hit] = {}
    for hit in hits:
        history = recent[hit.message_id]
        verdict = classify(hit, sent_at[hit.message_id], history, opened=hit.message_id in opened)
        hit.reason, hit.detail = verdict.reason, verdict.detail
        for earlier in verdict.remark:
            # Earlier hits of this batch are counted below with their final reason; stored
            # ones move from the human to the other column now.
            earlier.reason = TrackingReason.SECURITY_SCANNER
            earlier.detail = verdict.remark_detail
            if earlier.pk is not None:
                remarked[earlier.pk] = earlier
                rollups[earlier.message_id].human_clicks -= 1
                rollups[earlier.message_id].other_clicks += 1
        if hit.kind == TrackingKind.OPEN and hit.reason in _OPENING:
            opened.add(hit.message_id)
        if hit.kind == TrackingKind.CLICK:
            history.append(hit)
        new.append(hit)

    _insert_events(new)
    by_detail: dict[str, list[int]] = defaultdict(list)
    for pk, event in remarked.items():
        by_detail[event.detail].append(pk)
    for detail, pks in by_detail.items():
        TrackingEvent.objects.filter(pk__in=pks).update(
            reason=TrackingReason.SECURITY_SCANNER, detail=detail[:100]
        )

    for hit in new:
        rollup = rollups[hit.message_id]
        human = hit.reason == TrackingReason.HUMAN
        if hit.kind == TrackingKind.OPEN:
            if human:
                rollup.human_opens += 1
                if rollup.first_human_open_at is None or hit.at < rollup.first_human_open_at:
                    rollup.first_human_open_at = hit.at
                if rollup.last_human_open_at is None or hit.at > rollup.last_human_open_at:
                    rollup.last_human_open_at = hit.at
            else:
                rollup.other_opens += 1
        elif human:
            rollup.human_clicks += 1
        else:
            rollup.other_clicks += 1
        if rollup.last_event_at is None or hit.at > rollup.last_event_at:
            rollup.last_event_at = hit.at
    _save_rollups(list(rollups.values()))
    return len(new)


_EVENT_COLUMNS = ("message_id", "kind", "link_id", "at", "ip", "user_agent", "reason", "detail")


def _insert_events(hits: list[Hit]) -> None:
    rows = (
        (
            h.message_id,
            h.kind,
            h.link_id,
            h.at,
            h.ip,
            h.user_agent[:USER_AGENT_MAX],
            h.reason,
            h.detail[:100],
        )
        for h in hits
    )
    if connection.vendor != "postgresql":
        TrackingEvent.objects.bulk_create(
            [TrackingEvent(**dict(zip(_EVENT_COLUMNS, row, strict=True))) for row in rows],
            batch_size=500,
        )
        return
    # COPY: ~6x the rows a second of a multi-row INSERT here (DESIGN, "Measured costs").
    table = TrackingEvent._meta.db_table
    with connection.cursor() as cursor:
        with cursor.cursor.copy(f"COPY {table} ({', '.join(_EVENT_COLUMNS)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)


def _ensure_rollups(message_ids: list[int]) -> None:
    if connection.vendor != "postgresql":
        TrackingRollup.objects.bulk_create(
            [TrackingRollup(message_id=m) for m in message_ids], ignore_conflicts=True
        )
        return
    table = TrackingRollup._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (message_id, human_opens, human_clicks, other_opens, "
            f"other_clicks) SELECT m, 0, 0, 0, 0 FROM unnest(%s::bigint[]) AS m "
            f"ON CONFLICT (message_id) DO NOTHING",
            [message_ids],
        )


_ROLLUP_FIELDS = (
    "human_opens",
    "human_clicks",
    "other_opens",
    "other_clicks",
    "first_human_open_at",
    "last_human_open_at",
    "last_event_at",
)


def _save_rollups(rollups: list[TrackingRollup]) -> None:
    """Write the (locked) rollup rows back in one statement."""
    if connection.vendor != "postgresql":
        TrackingRollup.objects.bulk_update(rollups, _ROLLUP_FIELDS)
        return
    # bulk_update's CASE per row and field grows quadratically with the batch; a join on
    # arrays is one pass.
    table = TrackingRollup._meta.db_table
    types = ("int", "int", "int", "int", "timestamptz", "timestamptz", "timestamptz")
    columns = ", ".join(f"{f} = d.{f}" for f in _ROLLUP_FIELDS)
    arrays = ", ".join(f"%s::{t}[]" for t in types)
    sql = (
        f"UPDATE {table} r SET {columns} FROM unnest(%s::bigint[], {arrays}) "
        f"AS d(message_id, {', '.join(_ROLLUP_FIELDS)}) WHERE r.message_id = d.message_id"
    )
    params = [[r.pk for r in rollups]]
    params += [[getattr(r, f) for r in rollups] for f in _ROLLUP_FIELDS]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
