"""Sanitize email HTML for display, and turn HTML into plain text for previews.

This is the one place email HTML is cleaned (see docs/architecture.md). The engine
is the setting CRM_HTML_SANITIZER: "nh3" (the default; Rust's ammonia, maintained, ~24x
faster here) or "bleach" (unmaintained since 6.4.0, kept as a fallback). Both engines get the
same policy from this module: the tag and attribute allow-lists, the URL rule and the CSS
rule are shared, so they behave alike, and both are tested on the same hostile corpus.

The cleaned HTML is still shown in a sandboxed frame whose CSP forbids scripts: this module is
the second line of defence, not the only one. Sanitize once, where it pays (when a message is
logged or first shown), not on every fetch.

Policy, and why:
- Layout and text tags only. Scripts, styles, frames, plugins, forms, <base>, <meta>, SVG and
  MathML are removed; for the ones whose content is code or fallback (script, style, title,
  iframe, object, embed, svg, math, template, noscript) the content goes too.
- URLs (a[href], img[src] are the only URL attributes kept) must be absolute with http, https,
  mailto or cid; relative URLs are dropped because, with <base> gone, they would resolve
  against this application. data: is kept only for img[src] and only as base64 PNG, GIF,
  JPEG, WebP or BMP (never SVG, which can carry script).
- style attributes are kept, filtered to a safe subset: email layout lives in inline styles and
  dropping them makes much real mail unreadable. Only listed properties survive; a value with
  url(, expression(, an escape, a comment, @, < or > or any function other than rgb/rgba/
  hsl/hsla/calc is dropped. So no CSS can load anything (no tracking through CSS) and no
  legacy script-in-CSS works. <style> blocks are dropped whole.
- Links get rel="noopener noreferrer" and target="_blank".
"""

from __future__ import annotations

import html
import re
import threading

import nh3

DEFAULT_ENGINE = "nh3"
ENGINES = ("nh3", "bleach")

ALLOWED_TAGS = frozenset(
    {
        "a", "abbr", "address", "b", "bdi", "bdo", "big", "blockquote", "br", "caption",
        "center", "cite", "code", "col", "colgroup", "dd", "del", "dfn", "div", "dl", "dt",
        "em", "figcaption", "figure", "font", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i",
        "img", "ins", "kbd", "li", "mark", "ol", "p", "pre", "q", "s", "samp", "small",
        "span", "strike", "strong", "sub", "sup", "table", "tbody", "td", "tfoot", "th",
        "thead", "time", "tr", "tt", "u", "ul", "var", "wbr",
    }
)  # fmt: skip

# Removed together with everything inside them.
DROP_CONTENT_TAGS = frozenset(
    {
        "script", "style", "title", "iframe", "frame", "frameset", "object", "embed",
        "applet", "svg", "math", "template", "noscript", "xml",
    }
)  # fmt: skip

_GENERIC_ATTRIBUTES = frozenset(
    {"align", "valign", "dir", "lang", "title", "width", "height", "style", "bgcolor", "class"}
)
ALLOWED_ATTRIBUTES: dict[str, frozenset[str]] = {
    "*": _GENERIC_ATTRIBUTES,
    "a": frozenset({"href"}),
    "img": frozenset({"src", "alt", "border", "hspace", "vspace"}),
    "font": frozenset({"color", "face", "size"}),
    "table": frozenset({"border", "cellpadding", "cellspacing", "summary"}),
    "td": frozenset({"colspan", "rowspan", "nowrap", "scope"}),
    "th": frozenset({"colspan", "rowspan", "nowrap", "scope"}),
    "col": frozenset({"span"}),
    "colgroup": frozenset({"span"}),
    "ol": frozenset({"start", "type", "reversed"}),
    "ul": frozenset({"type"}),
    "li": frozenset({"value"}),
    "abbr": frozenset({"title"}),
    "time": frozenset({"datetime"}),
}
URL_SCHEMES = frozenset({"http", "https", "mailto", "cid"})
URL_ATTRIBUTES = frozenset({("a", "href"), ("img", "src")})
LINK_REL = "noopener noreferrer"
LINK_TARGET = "_blank"

CSS_PROPERTIES = frozenset(
    {
        "background", "background-color", "border", "border-bottom", "border-bottom-color",
        "border-bottom-style", "border-bottom-width", "border-collapse", "border-color",
        "border-left", "border-left-color", "border-left-style", "border-left-width",
        "border-radius", "border-right", "border-right-color", "border-right-style",
        "border-right-width", "border-spacing", "border-style", "border-top",
        "border-top-color", "border-top-style", "border-top-width", "border-width", "clear",
        "color", "direction", "display", "float", "font", "font-family", "font-size",
        "font-style", "font-variant", "font-weight", "height", "letter-spacing",
        "line-height", "list-style-type", "margin", "margin-bottom", "margin-left",
        "margin-right", "margin-top", "max-height", "max-width", "min-height", "min-width",
        "overflow-wrap", "padding", "padding-bottom", "padding-left", "padding-right",
        "padding-top", "table-layout", "text-align", "text-decoration", "text-indent",
        "text-transform", "vertical-align", "white-space", "width", "word-break",
        "word-spacing", "word-wrap",
    }
)  # fmt: skip
_CSS_VALUE_CHARS = re.compile(r"^[\w\s#%.,'\"!/+()*-]*$")
_CSS_FUNCTION = re.compile(r"([a-zA-Z-]*)\s*\(")
_CSS_FUNCTIONS = frozenset({"rgb", "rgba", "hsl", "hsla", "calc"})
_CSS_FORBIDDEN = re.compile(r"expression|javascript|vbscript|behavior|binding|import|url", re.I)
_DATA_IMAGE = re.compile(r"^data:image/(png|gif|jpe?g|webp|bmp);base64,[a-z0-9+/=]+$", re.I)
_URL_JUNK = re.compile(r"[\x00-\x20\x7f-\xa0\s]+")
_SCHEME = re.compile(r"^([a-z][a-z0-9+.-]*):", re.I)


# --- the shared policy ----------------------------------------------------------------------


def clean_css(style: str) -> str:
    """Return the safe subset of an inline style declaration list ("" when nothing is left)."""
    kept = []
    for declaration in html.unescape(style).split(";"):
        name, sep, value = declaration.partition(":")
        name, value = name.strip().lower(), " ".join(value.split())
        if not sep or name not in CSS_PROPERTIES or not value:
            continue
        if not _CSS_VALUE_CHARS.match(value) or _CSS_FORBIDDEN.search(value):
            continue
        functions = _CSS_FUNCTION.findall(value)
        if value.count("(") != len(functions) or value.count(")") != len(functions):
            continue
        if any(fn.lower() not in _CSS_FUNCTIONS for fn in functions):
            continue
        kept.append(f"{name}:{value}")
    return ";".join(kept)


def url_allowed(tag: str, attribute: str, value: str) -> bool:
    """Say whether a URL attribute value may stay (see the module docstring for the rule)."""
    # Browsers ignore whitespace and control characters inside a scheme ("jav&#x09;ascript:").
    normalized = _URL_JUNK.sub("", html.unescape(value))
    match = _SCHEME.match(normalized)
    if not match:
        return False
    scheme = match.group(1).lower()
    if scheme == "data":
        return (tag, attribute) == ("img", "src") and bool(_DATA_IMAGE.match(normalized))
    return scheme in URL_SCHEMES


def _attribute_name_allowed(tag: str, attribute: str) -> bool:
    return attribute in _GENERIC_ATTRIBUTES or attribute in ALLOWED_ATTRIBUTES.get(tag, ())


def _filter_attribute(tag: str, attribute: str, value: str) -> str | None:
    """Apply the value rules to one attribute: the nh3 `attribute_filter` callback."""
    if (tag, attribute) in URL_ATTRIBUTES:
        return value if url_allowed(tag, attribute, value) else None
    if attribute == "style":
        return clean_css(value) or None
    return value


# --- nh3 ------------------------------------------------------------------------------------

_nh3_cleaner: nh3.Cleaner | None = None


def _nh3_clean(text: str) -> str:
    global _nh3_cleaner
    if _nh3_cleaner is None:
        _nh3_cleaner = nh3.Cleaner(
            tags=set(ALLOWED_TAGS),
            clean_content_tags=set(DROP_CONTENT_TAGS),
            attributes={tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()},
            attribute_filter=_nh3_attribute_filter,
            strip_comments=True,
            link_rel=LINK_REL,
            # data: must reach the filter, which allows it for images only.
            url_schemes=set(URL_SCHEMES) | {"data"},
            set_tag_attribute_values={"a": {"target": LINK_TARGET}},
        )
    return _nh3_cleaner.clean(text)


def _nh3_attribute_filter(tag: str, attribute: str, value: str) -> str | None:
    if (tag, attribute) in (("a", "rel"), ("a", "target")):
        return value  # the values nh3 itself sets from LINK_REL and LINK_TARGET
    return _filter_attribute(tag, attribute, value)


# --- bleach ---------------------------------------------------------------------------------

_bleach_local = threading.local()  # bleach's Cleaner is not thread-safe; one per thread


def _bleach_clean(text: str) -> str:
    cleaner = getattr(_bleach_local, "cleaner", None)
    if cleaner is None:
        cleaner = _bleach_local.cleaner = _make_bleach_cleaner()
    return cleaner.clean(text)


def _make_bleach_cleaner():
    # Imported here: bleach is optional at run time and its parser costs ~0.1 s to import.
    from bleach import html5lib_shim
    from bleach.sanitizer import BleachSanitizerFilter, Cleaner

    class DropContent(html5lib_shim.Filter):
        """Drop DROP_CONTENT_TAGS elements with everything inside (bleach only strips tags)."""

        def __iter__(self):
            depth = 0
            for token in super().__iter__():
                kind = token["type"]
                if depth:
                    depth += {"StartTag": 1, "EndTag": -1}.get(kind, 0)
                    continue
                if kind == "StartTag" and token["name"].lower() in DROP_CONTENT_TAGS:
                    depth = 1
                    continue
                if kind in ("EmptyTag", "EndTag") and token["name"].lower() in DROP_CONTENT_TAGS:
                    continue
                yield token

    class LinkAttributes(html5lib_shim.Filter):
        """Give every link rel and target, as nh3 does."""

        def __iter__(self):
            for token in super().__iter__():
                if token["type"] in ("StartTag", "EmptyTag") and token["name"] == "a":
                    token["data"][(None, "rel")] = LINK_REL
                    token["data"][(None, "target")] = LINK_TARGET
                yield token

    class CssSanitizer:
        def sanitize_css(self, style: str) -> str:
            return clean_css(style)

    def allow_attribute(tag: str, attribute: str, value: str) -> bool:
        if not _attribute_name_allowed(tag, attribute):
            return False
        if (tag, attribute) in URL_ATTRIBUTES:
            return url_allowed(tag, attribute, value)
        return attribute != "style" or bool(clean_css(value))

    class EmailCleaner(Cleaner):
        def __init__(self) -> None:
            super().__init__(
                tags=ALLOWED_TAGS,
                attributes=allow_attribute,
                protocols=URL_SCHEMES | {"data"},
                strip=True,
                strip_comments=True,
                css_sanitizer=CssSanitizer(),
            )
            # The parser must keep the drop-content tags as elements (not text) so that
            # DropContent can see and remove them before the sanitizer strips tags.
            self.parser = html5lib_shim.BleachHTMLParser(
                tags=ALLOWED_TAGS | DROP_CONTENT_TAGS,
                strip=True,
                consume_entities=False,
                namespaceHTMLElements=False,
            )

        def clean(self, text: str) -> str:
            if not text:
                return ""
            stream = DropContent(self.walker(self.parser.parseFragment(text)))
            filtered = BleachSanitizerFilter(
                source=stream,
                allowed_tags=self.tags,
                attributes=self.attributes,
                strip_disallowed_tags=True,
                strip_html_comments=True,
                css_sanitizer=self.css_sanitizer,
                allowed_protocols=self.protocols,
            )
            return self.serializer.render(LinkAttributes(filtered))

    return EmailCleaner()


# --- public API -----------------------------------------------------------------------------


def configured_engine() -> str:
    """Return the engine named by CRM_HTML_SANITIZER, or nh3 when Django is not configured."""
    try:
        from django.conf import settings
        from django.core.exceptions import ImproperlyConfigured

        try:
            return getattr(settings, "CRM_HTML_SANITIZER", DEFAULT_ENGINE)
        except ImproperlyConfigured:
            return DEFAULT_ENGINE
    except ImportError:
        return DEFAULT_ENGINE


def sanitize_html(html_text: str, *, engine: str | None = None) -> str:
    """Clean untrusted email HTML for display in the sandboxed frame.

    `engine` overrides the setting (tests run both). An unknown engine name is a
    configuration error (ValueError), never a silent fallback to no cleaning.
    """
    engine = engine or configured_engine()
    if engine == "nh3":
        return _nh3_clean(html_text)
    if engine == "bleach":
        return _bleach_clean(html_text)
    raise ValueError(f"CRM_HTML_SANITIZER must be one of {ENGINES}, not {engine!r}")


# --- previews -------------------------------------------------------------------------------

_BLOCK_BREAK = re.compile(
    r"<(?:br|hr|/?p|/?div|/?tr|/?li|/?h[1-6]|/?table|/?blockquote|/?pre|/?ul|/?ol)\b[^<>]*>",
    re.I,
)
# [^<>] (not [^>]) keeps the scan linear on "<<<<<" runs like the nested-HTML bomb's.
_TAG = re.compile(r"<[^<>]*>")
_SPACES = re.compile(r"[ \t\r\f\v\xa0]+")
_BLANK_LINES = re.compile(r"\n\s*\n\s*\n+")
_DROP_OPEN = re.compile(r"<(script|style|title|template|svg|xml|noscript)\b", re.I)


def _drop_blocks(text: str) -> str:
    # A linear scan instead of one <x>.*?</x> regex: that regex goes quadratic when a page
    # opens many such elements without closing them.
    lowered = text.lower()
    out, pos = [], 0
    comment = lowered.find("<!--")
    match = _DROP_OPEN.search(text)
    while comment >= 0 or match is not None:
        if match is None or 0 <= comment < match.start():
            out.append(text[pos:comment])
            end = lowered.find("-->", comment + 4)
            pos = len(text) if end < 0 else end + 3
        else:
            out.append(text[pos : match.start()])
            end = lowered.find(f"</{match.group(1).lower()}", match.end())
            close = -1 if end < 0 else lowered.find(">", end)
            pos = len(text) if close < 0 else close + 1
        if 0 <= comment < pos:
            comment = lowered.find("<!--", pos)
        if match is not None and match.start() < pos:
            match = _DROP_OPEN.search(text, pos)
    out.append(text[pos:])
    return "".join(out)


def html_to_text(html_text: str) -> str:
    """Return readable plain text from HTML, cheaply, for previews and search (not display)."""
    text = _drop_blocks(html_text)
    text = _BLOCK_BREAK.sub("\n", text)
    text = html.unescape(_TAG.sub("", text))
    lines = (_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def snippet(text: str, length: int = 200) -> str:
    """Return the first `length` characters of text on one line, cut at a word, with "…"."""
    flat = " ".join(text.split())
    if len(flat) <= length:
        return flat
    cut = flat[:length]
    space = cut.rfind(" ")
    if space > length * 0.6:
        cut = cut[:space]
    return cut.rstrip(" ,.;:-–—") + "…"
