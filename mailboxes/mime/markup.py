"""Reading start tags of HTML without parsing the document: the attribute scanner that
tracking's link rewriter and the image rules share.

Works on HTML the sanitizer produced or a browser serialized (quoted attribute values may hold
">" or what looks like another attribute); it is not a general HTML parser.
"""

from __future__ import annotations

import html
import re

# One attribute of a start tag, its value consumed whole, so an "href=" inside another
# attribute's quoted value is never taken for one.
ATTRIBUTE = re.compile(r"""([^\s"'>/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?""")


def start_tag(name: str) -> re.Pattern:
    """A pattern matching the start tags of element `name` (quoted values may hold ">")."""
    return re.compile(rf"<{name}\b(?:[^>\"']|\"[^\"]*\"|'[^']*')*>", re.IGNORECASE)


def attribute(tag: str, name: str, start: int) -> re.Match | None:
    """The `name` attribute of a start tag, read from `start` (after the tag's name), if it has
    a value. Group 1 is the attribute's name; the value is in one of the later groups."""
    for attr in ATTRIBUTE.finditer(tag, start):
        if attr.group(1).lower() == name:
            return attr if attr.lastindex and attr.lastindex > 1 else None
    return None


def value(attr: re.Match) -> str:
    """An attribute's value, entities decoded, surrounding spaces stripped."""
    raw = next(g for g in attr.groups()[1:] if g is not None)
    return html.unescape(raw).strip()
