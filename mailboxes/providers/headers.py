"""Decode raw header bytes defensively: any charset, broken encoded-words, odd addresses.

Shared by every adapter and by the MIME parser: nothing here raises on bad input, and every
string it returns is safe to store (no NUL or other control characters).
"""

from __future__ import annotations

import binascii
import email.utils
import re
from datetime import UTC, datetime

ENCODED_WORD = re.compile(rb"=\?([^?\s*]+)(?:\*[^?\s]*)?\?([QqBb])\?([^?\s]*)\?=")
MESSAGE_ID = re.compile(r"<[^<>\s]+>")
MAX_PARSED_ADDRESS_FIELD = 16_384
LOOSE_ADDRESS = re.compile(r"[^\s<>,;:\"()\[\]]+@[^\s<>,;:\"()\[\]]+")
# Postgres text columns reject NUL, and other C0 controls only break rendering.
CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Labels seen in real mail that Python does not know, or knows as a narrower charset than
# the one senders actually used (the WHATWG encoding standard makes the same mappings).
CHARSET_ALIASES = {
    "us-ascii": None,
    "ascii": None,
    "unknown-8bit": None,
    "x-unknown": None,
    "iso-8859-1": "cp1252",
    "latin1": "cp1252",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "euc-kr": "cp949",
    "ks_c_5601-1987": "cp949",
    "shift_jis": "cp932",
    "x-sjis": "cp932",
    "iso-8859-8-i": "iso-8859-8",
}


def decode_bytes(data: bytes, charset: str | None = None) -> str:
    """Decode header bytes; unknown or lying charsets fall back to UTF-8, then cp1252."""
    if charset is not None:
        codec = CHARSET_ALIASES.get(charset.lower(), charset)
        if codec is not None:
            try:
                return data.decode(codec, "replace")
            except (LookupError, UnicodeError, ValueError, TypeError):
                pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        # Raw 8-bit headers without a label are most often Windows Western European.
        return data.decode("cp1252", "replace")


def decode_encoded_words(raw: bytes) -> str:
    """Decode RFC 2047 encoded words in an unfolded header value, never raising.

    Adjacent words in the same charset are joined before decoding, because senders split
    multibyte characters across words. Whitespace is collapsed and controls removed.
    """
    pieces: list[tuple[bytes, str | None]] = []
    pos = 0
    previous_was_word = False
    for match in ENCODED_WORD.finditer(raw):
        between = raw[pos : match.start()]
        # RFC 2047 6.2: whitespace between two encoded words is not part of the text.
        if between and not (previous_was_word and not between.strip(b" \t")):
            pieces.append((between, None))
        payload = decode_word_payload(match.group(2), match.group(3))
        if payload is None:
            pieces.append((match.group(0), None))
            previous_was_word = False
        else:
            pieces.append((payload, match.group(1).decode("ascii", "replace").lower()))
            previous_was_word = True
        pos = match.end()
    pieces.append((raw[pos:], None))

    merged: list[tuple[bytes, str | None]] = []
    for data, charset in pieces:
        if merged and merged[-1][1] == charset:
            merged[-1] = (merged[-1][0] + data, charset)
        else:
            merged.append((data, charset))
    text = "".join(decode_bytes(data, charset) for data, charset in merged)
    return " ".join(CONTROL_CHARS.sub("", text).split())


def decode_word_payload(encoding: bytes, payload: bytes) -> bytes | None:
    """Return the bytes of one encoded word, or None when they cannot be recovered."""
    try:
        if encoding in (b"B", b"b"):
            # Senders often drop the padding; restore it rather than give up.
            return binascii.a2b_base64(payload + b"=" * (-len(payload) % 4))
        return binascii.a2b_qp(payload, header=True)
    except (binascii.Error, ValueError):
        return None


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
    """Return the <id> tokens in a header, wrapping bare id@host tokens some clients send."""
    found = MESSAGE_ID.findall(value)
    if found:
        return found
    return [f"<{token.strip('<>')}>" for token in value.split() if "@" in token]


def normalize_message_id(value: str | None) -> str | None:
    """Return the first Message-ID in `value` in <id> form, or None."""
    found = message_ids(CONTROL_CHARS.sub("", value or ""))
    if found:
        return found[0]
    value = (value or "").strip().strip("<>").strip()
    return f"<{value}>" if value and not any(c.isspace() for c in value) else None


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
