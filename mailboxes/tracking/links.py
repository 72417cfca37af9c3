"""Instrument outgoing HTML: signed click links (one TrackedLink row per link) and an open
pixel, written in the transaction that queues the email."""

from __future__ import annotations

import html
import re
from urllib.parse import urlsplit

from django.conf import settings
from django.urls import reverse

from mailboxes.models import (
    EmailMessage,
    TrackedLink,
    TrackingRollup,
)
from mailboxes.tracking.tokens import click_token, open_token

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


def instrument(html_text: str, message: EmailMessage, source=None) -> str:
    """Return the HTML with signed click links and a signed open pixel for `message`.

    `message` must be saved. Call inside the transaction that queues the email: the
    TrackedLink rows and the (zero) rollup are written here. Instrumenting the same message
    again (an edited scheduled email) adds new link rows after the old ones, so a token in a
    version already built still resolves. `source` (outbox's Source) is kept on the rollup,
    which is what reports group by.
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
    TrackingRollup.objects.bulk_create(
        [
            TrackingRollup(
                message=message,
                source=source.kind if source else "",
                source_id=source.id if source else None,
            )
        ],
        ignore_conflicts=True,
    )

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
