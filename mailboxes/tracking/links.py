"""Instrument outgoing HTML: signed click links (one TrackedLink row per link) and an open
pixel, written in the transaction that queues the email.

Only the links the CRM user wrote are tracked (a web address a rep typed in the composer is
made a link first, composer/body.linkify, so it is tracked too). A signed click link
redirects to its URL for as long as its email is kept, so tracking a link someone else wrote
(a stranger's email quoted in a reply, a forwarded message) would make this application
redirect wherever that stranger chose. Two rules keep quoted content out, and either is enough:

- The composer puts the quoted or forwarded message in a marked block, `<blockquote
  class="crm-quote">` (QUOTE_CLASS; the sanitizer keeps `class`): no link inside it is
  tracked.
- The marker alone could be lost (a rep's editor may drop attributes, a rep may copy quoted
  text above the quote), so the caller also passes the URLs of the message being quoted,
  read from that stored message (`link_urls(parent.html_body)`), not from what the editor
  sent: a link to any of them is left as it is wherever it sits. Pasting cannot bypass this;
  the price is that a rep's own link to a URL that also appears in the quoted email is not
  tracked. A marker a rep fakes only leaves their own links untracked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, urlsplit, urlunsplit

from django.conf import settings
from django.db.models import Max
from django.urls import reverse

from mailboxes.mime.markup import attribute, value
from mailboxes.models import (
    EmailMessage,
    TrackedLink,
    TrackingRollup,
)
from mailboxes.tracking.domain import tracking_base_url
from mailboxes.tracking.tokens import (
    click_token,
    open_token,
    verify_click_token,
    verify_open_token,
)

# An <a> or <blockquote> start tag or a </blockquote> (quoted attribute values may hold ">"),
# or a comment to step over.
_SCAN = re.compile(
    r"<!--.*?-->|<(/?)(a|blockquote)\b(?:[^>\"']|\"[^\"]*\"|'[^']*')*>",
    re.IGNORECASE | re.DOTALL,
)
# The class of the block holding a quoted or forwarded message (composer/prefill.py).
QUOTE_CLASS = "crm-quote"
_BODY_END = re.compile(r"</body\s*>", re.IGNORECASE)
# Longer targets stay as they are: a redirect that long is refused by some clients anyway.
MAX_TRACKED_URL = 2048


# The path of a pixel or click link below the site's root (crm_mail/urls.py mounts /t/).
_TRACKING_PATH = re.compile(r"/t/(?:o/(?P<open>[\w-]+)\.gif|c/(?P<click>[\w-]+))")


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
    return not (url.startswith(f"{settings.CRM_BASE_URL}/preferences/") or is_tracking_url(url))


def is_tracking_url(url: str) -> bool:
    """Whether a URL is one of this CRM's open pixels or click links (an email quoting one of
    ours carries them): never loaded when mail is read, so reading counts no open or click.

    On the CRM's own host, anything under /t/. On another host (a tracking domain, today's or
    an earlier one) only a link whose token verifies: no database read, whatever the
    account's tracking domain is or was.
    """
    if url.startswith(f"{settings.CRM_BASE_URL}/t/"):
        return True
    try:
        path = urlsplit(url).path
    except ValueError:
        return False
    root = urlsplit(settings.CRM_BASE_URL).path.rstrip("/")
    found = _TRACKING_PATH.fullmatch(path.removeprefix(root)) if path.startswith(root) else None
    if found is None:
        return False
    if found["open"]:
        return verify_open_token(found["open"]) is not None
    return verify_click_token(found["click"]) is not None


def _href(tag: str) -> re.Match | None:
    """The href attribute of an <a> start tag, if it has a value."""
    return attribute(tag, "href", 2)  # after "<a"


def _links(html_text: str):
    """Yield (tag match, href match, URL, inside a quote block) for every <a href> of the HTML.

    Blockquotes are counted from the marked one on, so a quote nested in the quote (the
    thread's history) is inside it too. Sanitized HTML (all the callers pass) has its tags
    balanced.
    """
    depth = 0  # blockquotes open since the marked one, that one included
    for tag in _SCAN.finditer(html_text):
        text = tag.group(0)
        if text.startswith("<!--"):
            continue
        closing, name = tag.group(1), tag.group(2).lower()
        if name == "blockquote":
            if closing:
                depth = max(depth - 1, 0)
            elif depth:
                depth += 1
            else:
                marker = attribute(text, "class", len("<blockquote"))
                if marker is not None and QUOTE_CLASS in value(marker).split():
                    depth = 1
            continue
        if closing:
            continue
        href = _href(text)
        if href is not None:
            yield tag, href, value(href), depth > 0


def canonical_url(url: str) -> str:
    """The URL as a browser would write it back: scheme and host lowercased, an empty path as
    "/", non-ASCII characters and spaces percent-encoded. Compares a quoted link with the same
    link after an editor or a copy and paste went over it."""
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname or ""
        host = host.encode("idna").decode("ascii") if host else ""
        port = parts.port
    except (ValueError, UnicodeError):
        return url.strip()
    if ":" in host:
        host = f"[{host}]"  # IPv6
    netloc = host if port is None else f"{host}:{port}"
    if "@" in parts.netloc:
        netloc = parts.netloc.rsplit("@", 1)[0] + "@" + netloc
    keep = "/%:@!$&'()*+,;=-._~?#[]"
    return urlunsplit(
        (
            parts.scheme.lower(),
            netloc,
            quote(parts.path or "/", safe=keep),
            quote(parts.query, safe=keep),
            quote(parts.fragment, safe=keep),
        )
    )


def link_urls(html_text: str) -> frozenset[str]:
    """The canonical URLs of every link of an HTML body (see `instrument`'s `untracked`)."""
    return frozenset(canonical_url(url) for _, _, url, _ in _links(html_text))


def _pixel(base: str, message_id: int) -> str:
    src = base + reverse("tracking:open", args=[open_token(message_id)])
    return (
        f'<img src="{src}" width="1" height="1" alt="" '
        'style="display:block;width:1px;height:1px;border:0;">'
    )


def instrument(
    html_text: str,
    message: EmailMessage,
    source=None,
    *,
    untracked: frozenset[str] = frozenset(),
) -> str:
    """Return the HTML with signed click links and a signed open pixel for `message`.

    `message` must be saved. Call inside the transaction that queues the email: the
    TrackedLink rows and the (zero) rollup are written here. Instrumenting the same message
    again (an edited scheduled email) adds new link rows after the old ones, so a token in a
    version already built still resolves. `source` (outbox's Source) is kept on the rollup,
    which is what reports group by.

    Links inside a `<blockquote class="crm-quote">` and links to any of the `untracked` URLs
    (`link_urls()` of the message being quoted or forwarded) stay as they are: see the
    module's docstring.
    """
    return instrument_many([Instrumented(html_text, message, source, untracked)])[0]


@dataclass(frozen=True)
class Instrumented:
    """One email to instrument: `instrument`'s arguments."""

    html: str
    message: EmailMessage
    source: object = None
    untracked: frozenset[str] = frozenset()


def _found(item: Instrumented) -> list[tuple[re.Match, re.Match, str]]:
    found = []
    for tag, href, url, quoted in _links(item.html):
        if quoted or not _trackable(url):
            continue
        if item.untracked and canonical_url(url) in item.untracked:
            continue
        found.append((tag, href, url))
    return found


def instrument_many(items: list[Instrumented]) -> list[str]:
    """`instrument` for many messages at once: the same rows in three queries at most."""
    if not items:
        return []
    found = [_found(item) for item in items]
    with_links = [item.message.pk for item, links in zip(items, found, strict=True) if links]
    last = dict(
        TrackedLink.objects.filter(message__in=with_links)
        .values("message")
        .annotate(last=Max("position"))
        .values_list("message", "last")
        if with_links
        else []
    )
    links = TrackedLink.objects.bulk_create(
        [
            TrackedLink(
                message=item.message,
                position=last.get(item.message.pk, -1) + 1 + i,
                url=url,
            )
            for item, item_found in zip(items, found, strict=True)
            for i, (_, _, url) in enumerate(item_found)
        ]
    )
    TrackingRollup.objects.bulk_create(
        [
            TrackingRollup(
                message=item.message,
                source=item.source.kind if item.source else "",
                source_id=item.source.id if item.source else None,
            )
            for item in items
        ],
        ignore_conflicts=True,
    )
    # The account's tracking domain once its check passed, the CRM's own address otherwise.
    base = tracking_base_url()
    created = iter(links)
    return [
        _rewritten(item, item_found, [next(created) for _ in item_found], base)
        for item, item_found in zip(items, found, strict=True)
    ]


def _rewritten(item: Instrumented, found, links, base: str) -> str:
    html_text, message = item.html, item.message
    out, at = [], 0
    for (tag, href, _), link in zip(found, links, strict=True):
        click = base + reverse("tracking:click", args=[click_token(message.pk, link.pk, link.url)])
        begin = tag.start() + href.start()
        out.append(html_text[at:begin])
        out.append(f'href="{click}"')
        at = tag.start() + href.end()
    out.append(html_text[at:])
    result = "".join(out)

    pixel = _pixel(base, message.pk)
    ends = list(_BODY_END.finditer(result))
    if ends:
        cut = ends[-1].start()
        return result[:cut] + pixel + result[cut:]
    return result + pixel
