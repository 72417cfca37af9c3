"""Images in email HTML: remote ones blocked or let through, cid: ones made data: URLs.

A remote image tells whoever serves it that the email was opened, when, from which address
and with which mail reader: a tracking pixel is nothing else. So reading mail in the CRM loads
none unless the user asks (the message frame, timeline/views/threads.py, and the quote the
composer pre-fills, composer/prefill.py):

- blocked, an image keeps its URL in `data-crm-src` (BLOCKED) instead of `src`, so nothing
  loads on the app page nor in the frame (whose CSP allows data: images only, a second lock);
  `unblock()` turns them back when the rep's email is sent, so a quote is sent as it was;
- the images a message carries itself (inline MIME parts named by `cid:` URLs) are shown as
  data: URLs: they come from the stored message, not from any server.

Works on sanitized HTML (mime/sanitize.py): an img's src is then an absolute http(s), cid: or
data: URL, and `unblock()` on what a browser serialized.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from urllib.parse import unquote

from mailboxes.mime.markup import attribute, start_tag, value

BLOCKED = "data-crm-src"
_IMG = start_tag("img")
_AFTER_NAME = len("<img")


def is_remote(url: str) -> bool:
    return url[:8].lower().startswith(("http://", "https://"))


def has_remote_images(html_text: str) -> bool:
    """Whether the HTML has an image that would load from a server."""
    if "<img" not in html_text.lower():
        return False
    for tag in _IMG.finditer(html_text):
        src = attribute(tag.group(0), "src", _AFTER_NAME)
        if src is not None and is_remote(value(src)):
            return True
    return False


def rewrite_images(
    html_text: str,
    *,
    block_remote: bool,
    drop: Callable[[str], bool] | None = None,
    inline: dict[str, tuple[str, bytes]] | None = None,
) -> str:
    """Return the HTML with its images as they may be shown.

    Remote images are blocked (`block_remote`), or kept; an image whose URL `drop` accepts is
    removed either way (the CRM's own tracking pixels); `cid:` images found in `inline`
    (`mime.parsing.inline_images`) become data: URLs.
    """
    if "<img" not in html_text.lower():
        return html_text

    def replace(match) -> str:
        tag = match.group(0)
        src = attribute(tag, "src", _AFTER_NAME)
        if src is None:
            return tag
        url = value(src)
        if drop is not None and drop(url):
            return ""
        if is_remote(url):
            if not block_remote:
                return tag
            return tag[: src.start(1)] + BLOCKED + tag[src.end(1) :]
        if inline and url[:4].lower() == "cid:":
            found = inline.get(unquote(url[4:]))
            if found is not None:
                data = base64.b64encode(found[1]).decode("ascii")
                return f'{tag[: src.start()]}src="data:{found[0]};base64,{data}"{tag[src.end() :]}'
        return tag

    return _IMG.sub(replace, html_text)


def unblock(html_text: str) -> str:
    """Give blocked images back their src (an image that has a src of its own keeps it)."""
    if BLOCKED not in html_text:
        return html_text

    def replace(match) -> str:
        tag = match.group(0)
        blocked = attribute(tag, BLOCKED, _AFTER_NAME)
        if blocked is None or attribute(tag, "src", _AFTER_NAME) is not None:
            return tag
        return tag[: blocked.start(1)] + "src" + tag[blocked.end(1) :]

    return _IMG.sub(replace, html_text)
