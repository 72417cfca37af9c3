"""Who made a hit: a person, a privacy proxy, a security scanner or a link pre-fetcher.

`classify()` is a pure function over the hit, the message's send time, its recent clicks and
the network list (networks.py: scanners' and privacy proxies' networks shipped with the
product, refreshed by `manage.py tracking_networks_refresh`), so every rule is table-tested;
the rules, each with why, are listed above it. A hit is never judged by its user agent alone
where its network can tell. Only "human" hits count in timelines and reports; the others are
kept, with a detail, so a rep can still see what happened to the email.
"""

from __future__ import annotations

import ipaddress
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from mailboxes.models import (
    TrackingKind,
    TrackingReason,
)
from mailboxes.tracking import networks


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
    # The words a hit's detail keeps (product names stay as they are): see `_by_agent`.
    ("googleimageproxy", gettext_lazy("Google image proxy")),
    ("ggpht.com", gettext_lazy("Google image proxy")),
    ("yahoomailproxy", gettext_lazy("Yahoo Mail image proxy")),
)
# Apple Mail Privacy Protection preloads every remote image on delivery, through Apple's
# relays, whether or not the email is read. Its requests carry the bare user agent
# "Mozilla/5.0", but so do some Outlook clients opening an email for a person: the agent alone
# decides nothing. Its networks (Apple's own, the relays' partner egress) are in the network
# list (networks.py); the bare agent decides only where the client's network cannot be known
# (no address, or a private one: a proxy in front of the CRM that does not pass it on).
_APPLE_MPP_AGENT = "mozilla/5.0"
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
    ("headlesschrome", gettext_lazy("headless browser")),
    ("phantomjs", gettext_lazy("headless browser")),
    ("python-requests", gettext_lazy("HTTP library")),
    ("python-urllib", gettext_lazy("HTTP library")),
    ("aiohttp", gettext_lazy("HTTP library")),
    ("python-httpx", gettext_lazy("HTTP library")),
    ("curl/", gettext_lazy("HTTP library")),
    ("wget/", gettext_lazy("HTTP library")),
    ("go-http-client", gettext_lazy("HTTP library")),
    ("okhttp", gettext_lazy("HTTP library")),
    ("java/", gettext_lazy("HTTP library")),
    ("apache-httpclient", gettext_lazy("HTTP library")),
    ("libwww-perl", gettext_lazy("HTTP library")),
    ("node-fetch", gettext_lazy("HTTP library")),
    ("axios/", gettext_lazy("HTTP library")),
)
# Link-preview fetchers (a link pasted into chat) act for nobody in particular: pre-fetchers.
_PREFETCH_AGENTS = (
    ("slackbot", gettext_lazy("Slack link preview")),
    ("facebookexternalhit", gettext_lazy("link preview")),
    ("linkedinbot", gettext_lazy("LinkedIn link preview")),
    ("twitterbot", gettext_lazy("link preview")),
    ("discordbot", gettext_lazy("Discord link preview")),
    ("telegrambot", gettext_lazy("Telegram link preview")),
    ("whatsapp", gettext_lazy("WhatsApp link preview")),
    ("skypeuripreview", gettext_lazy("Microsoft Teams / Skype link preview")),
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


def _network_unknown(ip: str | None) -> bool:
    if not ip:
        return True
    try:
        return not ipaddress.ip_address(ip).is_global
    except ValueError:
        return True


def _by_network(hit: Hit, table: networks.Table) -> Verdict | None:
    """A hit from a listed scanner's network, or an open from a listed privacy proxy's."""
    listed = table.lookup(hit.ip)
    if listed is None:
        return None
    if listed.reason == TrackingReason.SECURITY_SCANNER:
        return Verdict(TrackingReason.SECURITY_SCANNER, listed.detail)
    if hit.kind == TrackingKind.OPEN:
        return Verdict(TrackingReason.PRIVACY_PROXY, listed.detail)
    return None


def _by_agent(hit: Hit) -> Verdict | None:
    agent = hit.user_agent.strip().lower()
    if not agent:
        return Verdict(TrackingReason.SECURITY_SCANNER, _("no user agent"))
    # The tables' details are lazy (translated when the hit is classified): str() them.
    for needle, detail in _PROXY_AGENTS:
        if needle in agent:
            return Verdict(TrackingReason.PRIVACY_PROXY, str(detail))
    if hit.kind == TrackingKind.OPEN and agent == _APPLE_MPP_AGENT and _network_unknown(hit.ip):
        return Verdict(TrackingReason.PRIVACY_PROXY, "Apple Mail Privacy Protection")
    for needle, detail in _SCANNER_AGENTS:
        if needle in agent:
            return Verdict(TrackingReason.SECURITY_SCANNER, str(detail))
    for needle, detail in _PREFETCH_AGENTS:
        if needle in agent:
            return Verdict(TrackingReason.PREFETCH, str(detail))
    if hit.kind == TrackingKind.CLICK and any(office in agent for office in _OFFICE_AGENTS):
        return Verdict(TrackingReason.SECURITY_SCANNER, _("Microsoft Office link check"))
    if _BOT_WORDS.search(agent):
        return Verdict(TrackingReason.SECURITY_SCANNER, _("automated client"))
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
    hit: Hit,
    sent_at: datetime | None,
    recent: Sequence[Hit],
    *,
    opened: bool | None = None,
    table: networks.Table | None = None,
) -> Verdict:
    """Say who (probably) made a hit: a person, a privacy proxy, a scanner or a pre-fetcher.

    `recent` holds the message's other events, oldest first (the caller passes at least its
    clicks within BURST_SECONDS of this hit); `opened` says whether a person or a privacy
    proxy opened the message before (derived from `recent` when not given). The first rule
    that matches decides; a click that makes a burst over different links also re-marks the
    other clicks of that burst that were taken for a person's.

    0. The address is in a listed network (networks.py; `table`, the list in force by
       default): a security scanner's, or a privacy proxy's for an open.
    1. The user agent names a privacy proxy, a security gateway, an HTTP library, a link
       previewer or a robot, or is missing (see the tables above for each one's why).
    2. The hit came within PREFETCH_SECONDS of the send.
    3. A click within BURST_SECONDS of a click on a different link from the same address:
       every link clicked at once.
    4. A click before any open, from something that is not a browser.
    5. Otherwise, a person.
    """
    verdict = _by_network(hit, table or networks.table()) or _by_agent(hit)
    if verdict is None and sent_at is not None:
        delay = (hit.at - sent_at).total_seconds()
        if delay < PREFETCH_SECONDS:
            within = _("within %(n)s s of sending") % {"n": max(0, int(delay))}
            verdict = Verdict(TrackingReason.PREFETCH, within)
    members = _burst(hit, recent) if hit.kind == TrackingKind.CLICK else []
    remark = tuple(m for m in members if m.reason == TrackingReason.HUMAN)
    burst = ""
    if members:
        links = len({m.link_id for m in members} | {hit.link_id})
        burst = _("%(n)s links clicked within %(seconds)s s") % {
            "n": links,
            "seconds": f"{BURST_SECONDS:g}",
        }
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
            verdict = Verdict(
                TrackingReason.SECURITY_SCANNER, _("click before any open, no browser")
            )
    if verdict is None:
        verdict = Verdict(TrackingReason.HUMAN)
    if remark:
        verdict = Verdict(verdict.reason, verdict.detail, remark, burst)
    return verdict
