"""Decode raw header bytes defensively: any charset, broken encoded-words, odd addresses.

Shared by every adapter for the fast header-only path of sync. The rules for charsets,
encoded-words and message ids are the MIME parser's (`mailboxes/mime/parsing.py`), so both paths
read a header alike; nothing here raises on bad input, and every string it returns is safe to
store (no NUL or other control characters).
"""

from __future__ import annotations

import email.utils
import re
from datetime import UTC, datetime

from mailboxes.mime import parsing
from mailboxes.mime.parsing import CONTROL_CHARS

MAX_PARSED_ADDRESS_FIELD = 16_384
LOOSE_ADDRESS = re.compile(r"[^\s<>,;:\"()\[\]]+@[^\s<>,;:\"()\[\]]+")


def decode_bytes(data: bytes, charset: str | None = None) -> str:
    """Decode header bytes leniently, by the MIME parser's rules (`parsing.decode_bytes`)."""
    return parsing.decode_bytes(data, charset)[0]


def decode_encoded_words(raw: bytes) -> str:
    """Decode RFC 2047 encoded words in an unfolded header value, never raising.

    The MIME parser's rules (`parsing.decode_header_value`), so a subject reads the same
    whichever path saw it first; whitespace is collapsed and controls removed.
    """
    text = parsing.decode_header_value(raw.decode("ascii", "surrogateescape"))
    return " ".join(CONTROL_CHARS.sub("", text).split())


def split_header_fields(block: bytes) -> dict[str, list[bytes]]:
    """Unfold a header block into lower-cased field names and their raw values."""
    fields: dict[str, list[bytes]] = {}
    current: list[bytes] | None = None
    for line in re.split(rb"\r\n|\r|\n", block or b""):
        if line[:1] in (b" ", b"\t"):
            if current is not None:
                current[-1] += line
            continue
        name, colon, value = line.partition(b":")
        if not colon or not name.strip():
            current = None
            continue
        current = fields.setdefault(name.strip().lower().decode("ascii", "replace"), [])
        current.append(value)
    return fields


def message_ids(value: str) -> list[str]:
    """Return the message ids in a header value, by the MIME parser's rules."""
    return parsing.parse_message_ids(CONTROL_CHARS.sub("", value or ""))


def header_ids(fields: dict[str, list[bytes]], name: str) -> list[str]:
    """Return the message ids in every `name` field of a split header block, in order
    (some mailers write References more than once)."""
    return message_ids(" ".join(decode_bytes(value) for value in fields.get(name, [])))


def parse_addresses(values: list[bytes]) -> list[tuple[str, str]]:
    """Return (display name, address) pairs from address header values."""
    # Parse before decoding encoded words: a decoded name may contain commas or quotes.
    raw = ", ".join(decode_bytes(v) for v in values)
    if not raw.strip():
        return []
    pairs: list[tuple[str, str]] = []
    # The stdlib parser recurses per address and is slow on huge fields (a 2,700-line To
    # in the corpus overflows the stack); those fall through to the loose pattern below.
    if len(raw) <= MAX_PARSED_ADDRESS_FIELD:
        try:
            pairs = email.utils.getaddresses([raw])
        except (ValueError, TypeError, IndexError, RecursionError):
            pairs = []
    found = [
        (decode_encoded_words(name.encode("utf-8", "replace")), address.strip())
        for name, address in pairs
        if "@" in address
    ]
    if not found:
        found = [("", address) for address in LOOSE_ADDRESS.findall(raw)]
    return [(name, CONTROL_CHARS.sub("", address)) for name, address in found]


def parse_date(values: list[bytes], fallback: datetime | None) -> datetime | None:
    """Return the Date header as an aware datetime, else the server's arrival time."""
    parsed = None
    if values:
        try:
            parsed = email.utils.parsedate_to_datetime(decode_bytes(values[0]).strip())
        except (TypeError, ValueError, IndexError, OverflowError):
            parsed = None
    parsed = parsed or fallback
    if parsed is not None and parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed
