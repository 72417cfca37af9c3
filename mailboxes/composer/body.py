"""The parts of a composed body the rep wrote, told apart from the email it quotes and from the
signature: where tokens are filled, typed URLs become links, and what must not be empty.

Works on HTML the sanitizer produced or a browser serialized (tags balanced, quoted attribute
values may hold ">"). The quoted or forwarded email is the `<blockquote class="crm-quote">`
the composer puts it in (tracking.links.QUOTE_CLASS), nested blockquotes included; the
signature is the `<div class="signature">` of `prefill.signature_html`.
"""

import html
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

from mailboxes.mime.markup import attribute, value
from mailboxes.tracking.links import QUOTE_CLASS

SIGNATURE_CLASS = "signature"
# A tag (quoted attribute values may hold ">") or a comment; the text runs lie between them.
_TAG = re.compile(r"<!--.*?-->|<(/?)([a-zA-Z][\w:-]*)\b(?:[^>\"']|\"[^\"]*\"|'[^']*')*>", re.DOTALL)
# What a rep types as a web address: with its scheme, or starting with "www.".
_URL = re.compile(r"\b(?:https?://|www\.)[^\s<>\"']+", re.IGNORECASE)
_TRAILING = ".,;:!?'\"”’)]}"


@dataclass(frozen=True)
class Run:
    """A run of text between two tags, as written in the HTML (entities not decoded), or an
    image (`image`: the <img> tag itself)."""

    start: int
    end: int
    quoted: bool  # inside the quoted or forwarded email
    signature: bool  # inside the signature
    link: bool  # inside an <a>
    image: bool = False


def _has_class(tag: str, name_length: int, wanted: str) -> bool:
    found = attribute(tag, "class", name_length + 1)
    return found is not None and wanted in value(found).split()


def _scan(html_text: str) -> Iterator[Run]:
    """Yield the text runs and the images of the HTML, saying where each one sits."""
    # Depths count the elements open since the marked one, that one included.
    quote = signature = link = 0
    at = 0
    for tag in _TAG.finditer(html_text):
        if tag.start() > at:
            yield Run(at, tag.start(), quote > 0, signature > 0, link > 0)
        at = tag.end()
        if tag.group(2) is None:
            continue  # a comment
        closing, name, text = bool(tag.group(1)), tag.group(2).lower(), tag.group(0)
        if name == "img":
            yield Run(tag.start(), tag.end(), quote > 0, signature > 0, link > 0, image=True)
        elif name == "a":
            link = max(link - 1, 0) if closing else link + 1
        elif name == "blockquote":
            if closing:
                quote = max(quote - 1, 0)
            elif quote or _has_class(text, len(name), QUOTE_CLASS):
                quote += 1
        elif name == "div":
            if closing:
                signature = max(signature - 1, 0)
            elif signature or _has_class(text, len(name), SIGNATURE_CLASS):
                signature += 1
    if at < len(html_text):
        yield Run(at, len(html_text), quote > 0, signature > 0, link > 0)


def runs(html_text: str) -> Iterator[Run]:
    """Yield the text runs of the HTML, saying where each one sits."""
    return (run for run in _scan(html_text) if not run.image)


def map_text(html_text: str, change: Callable[[str], str], *, links: bool = True) -> str:
    """The HTML with `change` applied to each text run the rep wrote (outside the quoted
    email; outside links too unless `links`). `change` gets and returns HTML text."""
    out, at = [], 0
    for run in runs(html_text):
        if run.quoted or (run.link and not links):
            continue
        out.append(html_text[at : run.start])
        out.append(change(html_text[run.start : run.end]))
        at = run.end
    out.append(html_text[at:])
    return "".join(out)


_BLANK = " \t\r\n\xa0\u200b"


def is_empty(html_text: str) -> bool:
    """Whether the rep wrote nothing: no text and no image outside the signature and the
    quoted email."""
    for run in _scan(html_text):
        if run.quoted or run.signature:
            continue
        if run.image or html.unescape(html_text[run.start : run.end]).strip(_BLANK):
            return False
    return True


def linkify(html_text: str, keep: Callable[[str], bool] = lambda url: False) -> str:
    """The HTML with the web addresses the rep typed made into links (so that tracking, which
    rewrites only links, tracks them). Not inside links, the quoted email or for a URL `keep`
    accepts (one the quoted email shows as text)."""

    def change(text: str) -> str:
        plain = html.unescape(text)
        pieces, at, changed = [], 0, False
        for match in _URL.finditer(plain):
            url = _trim(match.group(0))
            href = url if "://" in url else f"https://{url}"
            if keep(url) or not _has_host(href):
                continue
            end = match.start() + len(url)
            pieces.append(html.escape(plain[at : match.start()], quote=False))
            pieces.append(f'<a href="{html.escape(href)}">{html.escape(url, quote=False)}</a>')
            at, changed = end, True
        if not changed:
            return text
        pieces.append(html.escape(plain[at:], quote=False))
        return "".join(pieces)

    return map_text(html_text, change, links=False)


def in_font(html_text: str, style: str) -> str:
    """The body in one block whose inline style carries the rep's font (mail clients apply no
    style sheet of ours). The whole body, as the composer shows it: the quoted email and the
    signature keep their own inline styles, which win over it."""
    if not style:
        return html_text
    return f'<div style="{html.escape(style)}">{html_text}</div>'


def _has_host(url: str) -> bool:
    try:
        return "." in (urlsplit(url).hostname or "")
    except ValueError:
        return False


def _trim(url: str) -> str:
    """A URL without the punctuation that ends the sentence around it (a closing bracket stays
    when the URL opened one)."""
    while url and url[-1] in _TRAILING:
        if url[-1] == ")" and url.count("(") >= url.count(")"):
            break
        url = url[:-1]
    return url
