"""Decode raw header bytes defensively: any charset, broken encoded-words, odd addresses.

The one home of the header-reading rules: lenient charset decoding, RFC 2047 encoded-words,
message ids and the control characters stripped before storing. Every adapter uses them on the
fast header-only path of sync, and the MIME parser (`mailboxes/mime/parsing.py`) imports them
from here, so both paths read a header alike. Nothing here raises on bad input, the helpers
adapters use return only strings safe to store (no NUL or other control characters), and,
like the rest of providers/, nothing here imports from the CRM.
"""

from __future__ import annotations

import binascii
import codecs
import email.utils
import re
from datetime import UTC, datetime, timedelta, timezone

# Work caps: the corpus has a 135 KB To: made of encoded-words (mimekit stack-overflow.txt).
MAX_FIELD_CHARS = 32 * 1024
MAX_IDS = 500
MAX_PARSED_ADDRESS_FIELD = 16_384

# The headers an adapter keeps in FetchedHeader.raw_headers when its API hands them over one by
# one (Graph, EWS): threading and addresses, plus the automatic-mail markers sync checks
# (mailboxes/mime/autoreply.py).
RAW_HEADER_NAMES = frozenset(
    {
        "message-id",
        "in-reply-to",
        "references",
        "from",
        "to",
        "cc",
        "subject",
        "date",
        "content-type",
        "return-path",
        "auto-submitted",
        "x-autoreply",
        "x-autorespond",
        "precedence",
        "list-id",
        "list-unsubscribe",
        "x-auto-response-suppress",
    }
)

# Charset labels Python does not know, or knows as a narrower set than mail clients mean.
CHARSET_ALIASES = {
    # Outlook labels Korean mail with this registered-but-unsupported name; cp949 is what it sends.
    "ks_c_5601-1987": "cp949",
    "ks_c_5601": "cp949",
    "ksc5601": "cp949",
    "ksc_5601": "cp949",
    "euc-kr": "cp949",
    "gb2312": "gb18030",
    "gb_2312-80": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "cn-gb": "gb18030",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "x-sjis": "cp932",
    "ms_kanji": "cp932",
    "windows-31j": "cp932",
    # Senders write ISO-2022-JP with the NEC and IBM extensions; the _ext codec reads them.
    "iso-2022-jp": "iso2022_jp_ext",
    "big5": "big5hkscs",
    "tis-620": "cp874",
    "iso-8859-11": "cp874",
    "unicode-1-1-utf-7": "utf-7",
    "x-unicode20utf8": "utf-8",
    "utf8": "utf-8",
    # WHATWG practice: a Latin-1 label almost always means Windows-1252 (curly quotes, euro).
    "iso-8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "iso_8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "us-ascii": "ascii",
}
# Japanese mail is often labelled with the wrong one of its three encodings (sisimai's
# lhost-ezweb-03 says ISO-2022-JP and is EUC-JP); try the others before replacing characters.
CHARSET_SIBLINGS = {
    "iso2022_jp_ext": ("euc_jp", "cp932"),
    "iso2022_jp": ("euc_jp", "cp932"),
    "euc_jp": ("cp932", "iso2022_jp_ext"),
    "cp932": ("euc_jp", "iso2022_jp_ext"),
    "shift_jis": ("euc_jp", "iso2022_jp_ext"),
}
# Codecs Python would accept for a label but that are not charsets (they would unescape or
# transform the text instead of decoding it).
_NOT_CHARSETS = {
    "unicode_escape",
    "raw_unicode_escape",
    "punycode",
    "idna",
    "undefined",
    "mbcs",
    "oem",
}

_ENCODED_WORD = re.compile(r"=\?([^?\s]{1,64})\?([qQbB])\?([^?]*)\?=")
_MSG_ID = re.compile(r"<([^<>]*)>")
_WS = re.compile(r"\s+")
# PostgreSQL text columns reject NUL, and other C0 controls only break rendering.
CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_Q_ESCAPE = re.compile(rb"=([0-9A-Fa-f]{2})")
_B64_JUNK = re.compile(rb"[^A-Za-z0-9+/]")
LOOSE_ADDRESS = re.compile(r"[^\s<>,;:\"()\[\]]+@[^\s<>,;:\"()\[\]]+")


# --- charsets, encoded-words and message ids (the MIME parser's rules too) -------------


def _codec_for(label: str | None) -> str | None:
    if not label:
        return None
    label = label.strip().strip("\"'").lower()
    label = CHARSET_ALIASES.get(label, label)
    try:
        info = codecs.lookup(label)
    except (LookupError, ValueError):
        return None
    if not getattr(info, "_is_text_encoding", True) or info.name in _NOT_CHARSETS:
        return None
    return info.name


def decode_bytes(data: bytes, charset: str | None = None) -> tuple[str, bool]:
    """Decode `data` as text in the declared charset, leniently; never raise.

    Try the label (through CHARSET_ALIASES), then UTF-8 and the label's CHARSET_SIBLINGS, then,
    when the label was known, the label again with replacement characters (a single bad byte
    should not turn a whole Shift_JIS message into Windows-1252 mojibake); when the label was
    unknown or missing, Windows-1252 and finally Latin-1, which never fails. The flag says a
    fallback was needed.
    """
    codec = _codec_for(charset)
    if codec:
        try:
            return data.decode(codec), False
        except (UnicodeDecodeError, LookupError):
            pass
    for candidate in ("utf-8", *CHARSET_SIBLINGS.get(codec or "", ())):
        try:
            return data.decode(candidate), codec is not None and codec not in ("ascii", "utf-8")
        except UnicodeDecodeError:
            pass
    if codec and codec != "ascii":
        return data.decode(codec, "replace"), True
    try:
        return data.decode("cp1252"), bool(charset)
    except UnicodeDecodeError:
        return data.decode("latin-1"), True


def text_from_surrogates(value: str, hint: str | None = None) -> str:
    """Decode the raw 8-bit bytes a header value keeps as lone surrogates.

    compat32 and the MIME parser's header splitter keep them so. They are UTF-8 (RFC 6532)
    or, from older clients, the charset of the body (`hint`): a Big5 Subject comes with a
    Big5 body (mikel/mail content_transfer_encoding_empty.eml).
    """
    if value.isascii() or not any("\udc80" <= ch <= "\udcff" for ch in value):
        return value
    data = value.encode("utf-8", "surrogateescape")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return decode_bytes(data, hint)[0]


def b64decode_lenient(data: bytes) -> tuple[bytes, bool]:
    """Decode base64 that may be truncated or padded mid-way; the flag says it was damaged."""
    try:
        return binascii.a2b_base64(data), False
    except (binascii.Error, ValueError):
        pass
    # Truncated or padded-in-the-middle base64 (nodemailer decoderended.eml): keep what decodes.
    cleaned = _B64_JUNK.sub(b"", data)
    cleaned = cleaned[: len(cleaned) - len(cleaned) % 4] if len(cleaned) % 4 == 1 else cleaned
    cleaned += b"=" * (-len(cleaned) % 4)
    try:
        return binascii.a2b_base64(cleaned), True
    except (binascii.Error, ValueError):
        return b"", True


def decode_header_value(value: str, hint: str | None = None) -> str:
    """Decode RFC 2047 encoded-words in an unfolded header value; never raise.

    Adjacent encoded-words in the same charset are joined before decoding, because senders
    split multibyte characters across them (ISO-2022-JP and UTF-8 base64 subjects do). Raw
    8-bit bytes (surrogate-escaped) are decoded as UTF-8, else Windows-1252, except inside an
    encoded-word, where they belong to its charset (Eudora, mail-mime-parser m2004).
    """
    if "=?" not in value:
        return text_from_surrogates(value, hint)
    out: list[str] = []
    pending: list[tuple[str, bytes]] = []  # (charset, bytes) of a run of encoded-words
    pos = 0

    def flush() -> None:
        for charset, data in pending:
            out.append(decode_bytes(data, charset)[0])
        pending.clear()

    for match in _ENCODED_WORD.finditer(value):
        gap = value[pos : match.start()]
        if gap and (gap.strip() or not pending):
            flush()
            out.append(text_from_surrogates(gap, hint))
        charset = match.group(1).split("*", 1)[0]  # RFC 2231 language suffix: =?utf-8*en?...
        text = match.group(3)
        if match.group(2) in "bB":
            data = b64decode_lenient(text.encode("ascii", "replace"))[0]
        else:
            raw = text.replace("_", " ").encode("utf-8", "surrogateescape")
            data = _Q_ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), raw)
        if pending and pending[-1][0].lower() == charset.lower():
            pending[-1] = (charset, pending[-1][1] + data)
        else:
            pending.append((charset, data))
        pos = match.end()
    flush()
    out.append(text_from_surrogates(value[pos:], hint))
    return "".join(out)


def normalize_message_id(value: str | None) -> str | None:
    """Return the first message id in a header value, with angle brackets, or None.

    A lone token with neither brackets nor @ ("Message-ID: 12223") is still the message's
    identity: it is kept, bracketed, so the message dedups and can be replied to.
    """
    ids = parse_message_ids(value, limit=1)
    if ids:
        return ids[0]
    token = CONTROL_CHARS.sub("", value or "")[:MAX_FIELD_CHARS].strip().strip("<>").strip()
    return f"<{token}>" if token and not any(c.isspace() for c in token) else None


def parse_message_ids(value: str | None, *, limit: int = MAX_IDS) -> list[str]:
    """Return the message ids in a header value, in order, whitespace removed, `<bracketed>`.

    Ids without brackets (some list software, mikel/mail's "one invalid reference") are kept
    when they contain an @, so a bare `abc@host` still threads.
    """
    if not value:
        return []
    value = CONTROL_CHARS.sub("", value[:MAX_FIELD_CHARS])
    found = [_WS.sub("", m) for m in _MSG_ID.findall(value)]
    ids = [f"<{m}>" for m in found if m]
    if not ids:
        ids = [f"<{tok.strip('<>,;')}>" for tok in value.split() if "@" in tok.strip("<>,;")]
    return ids[:limit]


# --- the adapters' header-only path -----------------------------------------------------


def decode_text(data: bytes, charset: str | None = None) -> str:
    """Decode header bytes leniently (`decode_bytes` without its fallback flag)."""
    if charset is None and data.isascii():
        return data.decode("ascii")  # what decode_bytes gives, without its lookups
    return decode_bytes(data, charset)[0]


def decode_encoded_words(raw: bytes) -> str:
    """Decode RFC 2047 encoded words in an unfolded header value, never raising.

    `decode_header_value`, as the MIME parser reads it, so a subject reads the same
    whichever path saw it first; whitespace is collapsed and controls removed.
    """
    if raw.isascii() and b"=?" not in raw:
        text = raw.decode("ascii")  # what decode_header_value would give back
    else:
        text = decode_header_value(raw.decode("ascii", "surrogateescape"))
    return " ".join(CONTROL_CHARS.sub("", text).split())


def split_header_fields(block: bytes) -> dict[str, list[bytes]]:
    """Unfold a header block into lower-cased field names and their raw values."""
    fields: dict[str, list[bytes]] = {}
    current: list[bytes] | None = None
    # bytes.splitlines breaks at \r\n, \r and \n only, as a regex split on them would.
    for line in (block or b"").splitlines():
        if line[:1] in (b" ", b"\t"):
            if current is not None:
                current[-1] += line
            continue
        name, colon, value = line.partition(b":")
        key = _FIELD_NAMES.get(name) if colon else None
        if key is None:
            if not colon or not name.strip():
                current = None
                continue
            key = name.strip().lower().decode("ascii", "replace")
        current = fields.setdefault(key, [])
        current.append(value)
    return fields


# The field names as most mail writes them, lowercased once here rather than per message.
_FIELD_NAMES = {
    spelling.encode(): spelling.lower()
    for name in (*RAW_HEADER_NAMES, "content-transfer-encoding", "mime-version")
    for spelling in {name, name.title(), name.upper(), name.title().replace("-Id", "-ID")}
}


def message_ids(value: str) -> list[str]:
    """Return the message ids in a header value (`parse_message_ids`, controls removed)."""
    return parse_message_ids(CONTROL_CHARS.sub("", value or ""))


def header_ids(fields: dict[str, list[bytes]], name: str) -> list[str]:
    """Return the message ids in every `name` field of a split header block, in order
    (some mailers write References more than once)."""
    if name not in fields:
        return []
    return message_ids(" ".join(decode_text(value) for value in fields[name]))


def parse_addresses(values: list[bytes]) -> list[tuple[str, str]]:
    """Return (display name, address) pairs from address header values."""
    # Parse before decoding encoded words: a decoded name may contain commas or quotes.
    raw = ", ".join(decode_text(v) for v in values)
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


# A Date in the form mail clients write it ("Sat, 24 Jan 2026 09:10:08 +0100"), read as
# `email.utils.parsedate_to_datetime` reads it, at a fifth of its cost; other forms go to it.
_PLAIN_DATE = re.compile(
    r"(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), )?([0-9]{1,2}) "
    r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) ([1-9][0-9]{3}) "
    r"([0-9]{2}):([0-9]{2}):([0-9]{2}) ([+-])([0-9]{2})([0-9]{2})"
)
_MONTHS = {
    name: n for n, name in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), 1)
}


def _plain_date(text: str) -> datetime | None:
    """The date of a Date value in the plain form, or None for any other form.

    Raises what `parsedate_to_datetime` raises for an impossible date in that form.
    """
    match = _PLAIN_DATE.fullmatch(text)
    if match is None:
        return None
    day, month, year, hour, minute, second, sign, tz_hours, tz_minutes = match.groups()
    offset = int(tz_hours) * 3600 + int(tz_minutes) * 60
    stamp = (int(year), _MONTHS[month], int(day), int(hour), int(minute), int(second))
    if not offset and sign == "-":  # "-0000": the zone is unknown, and the date naive
        return datetime(*stamp)
    return datetime(*stamp, tzinfo=timezone(timedelta(seconds=-offset if sign == "-" else offset)))


def parse_date(values: list[bytes], fallback: datetime | None) -> datetime | None:
    """Return the Date header as an aware datetime, else the server's arrival time."""
    parsed = None
    if values:
        text = decode_text(values[0]).strip()
        try:
            parsed = _plain_date(text) or email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError, OverflowError):
            parsed = None
    parsed = parsed or fallback
    if parsed is not None and parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed
