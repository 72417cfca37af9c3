"""Parse raw email defensively, for the sync worker and the bounce parser.

Two entry points, because sync decides from headers first and parses fully only what it keeps
(a full parse costs a millisecond or more a message, most synced mail is never kept):

- `parse_headers(raw)` reads only the header block: ids for threading, participants, subject,
  date and the raw values of the headers that mark automatic mail.
- `parse_message(raw)` adds the text and HTML bodies (HTML is *not* sanitized here: that is
  done once, where it pays, by `mailboxes.mime.sanitize`) and the attachment list.

Neither raises, whatever the bytes: a message that is not RFC 5322 at all comes back with
`malformed=True` and the caller stores the raw bytes, so nothing is lost. The MIME tree is built
by `email.message_from_bytes(policy=compat32)`, five times cheaper than `policy.default`; every
charset, transfer encoding and header decoding step is done here, leniently. The rules for
charsets, encoded-words and message ids live in `mailboxes/providers/headers.py`, because the
provider adapters read headers by them too and providers/ imports nothing from the CRM; they
are imported here and callers take them from this module (`decode_bytes`,
`normalize_message_id`, ...).
"""

from __future__ import annotations

import binascii
import email
import re
import urllib.parse
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.message import Message
from email.policy import compat32
from email.utils import getaddresses, parsedate_tz

from mailboxes.providers.headers import (
    MAX_FIELD_CHARS,
    b64decode_lenient,
    decode_bytes,
    decode_header_value,
    normalize_message_id,
    parse_message_ids,
    text_from_surrogates,
)

# Work caps. The corpus has a 135 KB To: made of encoded-words (mimekit stack-overflow.txt);
# real headers stay far below these.
MAX_HEADER_BYTES = 256 * 1024
MAX_ADDRESSES = 500
MAX_PARTS = 500
MAX_DEPTH = 40

_HEADER_LINE = re.compile(rb"^[!-9;-~]+[ \t]*:")
_BARE_ADDRESS = re.compile(r"[^\s<>()\[\],;:\"]+@[^\s<>()\[\],;:\"]+")
_WS = re.compile(r"\s+")
_CTE_TOKEN = re.compile(r"[a-z0-9-]+")
_PARAM = re.compile(r';\s*([^\s=;"]+)\s*=\s*("(?:[^"\\]|\\.)*"?|[^;]*)')
_RFC2231_NAME = re.compile(r"^([^*]+)\*(?:(\d+)(\*)?)?$")
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


@dataclass(frozen=True, slots=True)
class Headers:
    """What sync needs to decide about a message before (or without) parsing its body.

    Ids keep their angle brackets; addresses are bare and lowercased; the automatic-mail
    headers are raw (unfolded, stripped) so `mailboxes.mime.autoreply` can judge them.
    """

    message_id: str | None = None
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    from_addr: str | None = None
    from_name: str = ""
    to: tuple[str, ...] = ()
    cc: tuple[str, ...] = ()
    reply_to: tuple[str, ...] = ()
    subject: str = ""
    date: datetime | None = None
    content_type: str = "text/plain"
    report_type: str | None = None
    auto_submitted: str | None = None
    x_autoreply: str | None = None
    x_autorespond: str | None = None
    precedence: str | None = None
    x_auto_response_suppress: str | None = None
    list_id: str | None = None
    list_unsubscribe: str | None = None
    return_path: str | None = None


@dataclass(frozen=True, slots=True)
class Attachment:
    """One non-body MIME part. `content_id` has no angle brackets, as `cid:` URLs use it."""

    filename: str
    content_type: str
    size: int
    content_id: str | None
    is_inline: bool


@dataclass(frozen=True, slots=True)
class ParsedMessage:
    """A parsed message. `html` is raw, unsanitized HTML: never render it as is."""

    headers: Headers
    text: str
    html: str
    attachments: tuple[Attachment, ...]
    malformed: bool
    defects: tuple[str, ...]


# --- bytes and charsets ---------------------------------------------------------------------


def normalize_newlines(raw: bytes) -> bytes:
    """Return `raw` with a leading BOM removed and CRLF or bare CR turned into LF.

    CR-only files (old Mac mail, sisimai's maildir/mac) otherwise parse as one long header line.
    A binary-transfer-encoded attachment containing CR bytes would change, which is why callers
    keep the raw message and never rebuild it from the parse.
    """
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    if b"\r" in raw:
        raw = raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    return raw


# --- header fields --------------------------------------------------------------------------


def _unfold(value: str) -> str:
    return value.replace("\n", "").strip()


def _split_address_list(value: str) -> list[str]:
    """Split an address list at top-level commas (not inside quotes, <>, or comments)."""
    pieces, start, quoted, angle, comment, escaped = [], 0, False, 0, 0, False
    for index, char in enumerate(value):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"' and not comment:
            quoted = not quoted
        elif quoted:
            continue
        elif char == "(":
            comment += 1
        elif char == ")" and comment:
            comment -= 1
        elif char == "<" and not comment:
            angle += 1
        elif char == ">" and angle:
            angle -= 1
        elif char == "," and not (angle or comment):
            pieces.append(value[start:index])
            start = index + 1
    pieces.append(value[start:])
    return [piece for piece in pieces if piece.strip()]


def _addresses(
    values: list[str], hint: str | None = None, *, bare: bool = False
) -> list[tuple[str, str]]:
    # bare=True keeps entries without an @ with "" as address: "From: MAILER-DAEMON <>" has a
    # name worth keeping (it marks a bounce) and no address.
    pairs: list[tuple[str, str]] = []
    for value in values:
        # One piece at a time: getaddresses recurses once per ":" in a piece and overflows
        # the stack on the corpus header bomb (mimekit stack-overflow.txt), losing the list.
        for piece in _split_address_list(value[:MAX_FIELD_CHARS]):
            try:
                pairs.extend(getaddresses([piece]))
            except (RecursionError, ValueError, IndexError, TypeError):
                pairs.extend(("", found) for found in _BARE_ADDRESS.findall(piece))
            if len(pairs) >= MAX_ADDRESSES:
                break
    result = []
    for name, addr in pairs[:MAX_ADDRESSES]:
        addr = _WS.sub("", addr).strip("<>").lower()
        if "@" in addr or bare:
            name = decode_header_value(name, hint).strip() or ("" if "@" in addr else addr)
            result.append((name, addr if "@" in addr else ""))
    return result


def _address_list(values: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(addr for _name, addr in _addresses(values)))


def _parse_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parts = parsedate_tz(value)
        if not parts:
            return None
        offset = parts[9] or 0
        return datetime(*parts[:6], tzinfo=timezone(timedelta(seconds=offset)))
    except (TypeError, ValueError, OverflowError, IndexError):
        return None


def header_params(value: str | None) -> dict[str, str]:
    """Return the parameters of a structured header (Content-Type, Content-Disposition).

    Names are lowercased. RFC 2231 values (`name*=utf-8''%E2%9C%94`, `name*0*=`, `name*1=`)
    are joined and decoded with the same lenient charset fallback as bodies; raw 8-bit values
    (an Apple Mail filename in UTF-8) are decoded too.
    """
    if not value:
        return {}
    plain: dict[str, str] = {}
    extended: dict[str, list[tuple[int, bool, str]]] = {}
    for name, raw in _PARAM.findall(value[:MAX_FIELD_CHARS]):
        name = name.lower()
        if raw.startswith('"'):
            # Only \" and \\ are unescaped: Netscape sends name="C:\TEMP\x.png" unescaped.
            raw = re.sub(r'\\([\\"])', r"\1", raw[1:-1] if raw.endswith('"') else raw[1:])
        else:
            raw = raw.strip()
        match = _RFC2231_NAME.match(name)
        if match:
            index = int(match.group(2) or 0)
            encoded = match.group(2) is None or bool(match.group(3))
            extended.setdefault(match.group(1), []).append((index, encoded, raw))
        else:
            plain.setdefault(name, raw)
    params = {name: text_from_surrogates(raw) for name, raw in plain.items()}
    for name, segments in extended.items():
        segments.sort(key=lambda seg: seg[0])
        charset = None
        data = b""
        for index, encoded, raw in segments:
            if encoded and index == 0 and raw.count("'") >= 2:
                charset, _lang, raw = raw.split("'", 2)
            chunk = raw.encode("utf-8", "surrogateescape")
            data += urllib.parse.unquote_to_bytes(chunk) if encoded else chunk
        params[name] = decode_bytes(data, charset or None)[0]
    return params


def split_content_type(value: str | None) -> tuple[str, dict[str, str]]:
    """Return the lowercased `type/subtype` (text/plain when invalid) and its parameters."""
    if not value:
        return "text/plain", {}
    main = value.split(";", 1)[0].strip().lower()
    if main.count("/") != 1 or not all(main.split("/")):
        main = "text/plain"
    return main, header_params(value)


def _split_header(raw: bytes) -> tuple[dict[str, list[str]], list[str], bytes, bytes]:
    """Split a message into header fields, defects, a cleaned header block and the body.

    Fields map lowercased names to unfolded, still undecoded values. A line that is neither a
    field nor a continuation is dropped when fields follow it (mikel/mail
    raw_email_incorrect_header.eml), and otherwise starts the body, as in a message with no
    blank line after its headers (cpython msg_35). `Name  :` (obsolete syntax) is accepted.
    The cleaned block is what compat32 gets, so its MIME headers are never lost behind junk.
    """
    raw = raw.lstrip(b"\n")  # blank lines before the headers (some mbox exports) are noise
    end = raw.find(b"\n\n")
    block, rest = (raw, b"") if end < 0 else (raw[:end], raw[end + 2 :])
    defects: list[str] = []
    if len(block) > MAX_HEADER_BYTES:
        defects.append("header block truncated")
        block = block[:MAX_HEADER_BYTES]
    lines = block.split(b"\n")
    is_field = [bool(_HEADER_LINE.match(line)) for line in lines]
    last_field = max((i for i, field in enumerate(is_field) if field), default=-1)
    fields: dict[str, list[str]] = {}
    kept: list[bytes] = []
    name: str | None = None
    chunks: list[bytes] = []
    size = 0
    body_lines: list[bytes] = []

    def close() -> None:
        if name is not None:
            value = b"".join(chunks)
            if size > MAX_FIELD_CHARS:
                defects.append(f"header {name} truncated")
            text = value[:MAX_FIELD_CHARS].decode("ascii", "surrogateescape")
            fields.setdefault(name, []).append(_unfold(text))

    for index, line in enumerate(lines):
        if line[:1] in (b" ", b"\t") and name is not None:
            kept.append(line)
            if size <= MAX_FIELD_CHARS:
                chunks.append(b" " + line.strip())
                size += len(line)
            continue
        close()
        name, chunks, size = None, [], 0
        if not is_field[index]:
            if index == 0 and line.startswith(b"From "):
                continue  # an mbox separator line
            if not line.strip():
                continue
            if index < last_field:
                defects.append("invalid header line")
                continue
            body_lines = lines[index:]
            defects.append("no blank line between headers and body")
            break
        match = _HEADER_LINE.match(line)
        name = line[: match.end() - 1].strip().decode("ascii").lower()
        value = line[match.end() :]
        kept.append(line[: match.end() - 1].strip() + b":" + value)
        chunks, size = [value.strip()], len(value)
    close()
    body = b"\n".join(body_lines)
    if rest:
        body = body + b"\n\n" + rest if body else rest
    return fields, defects, b"\n".join(kept), body


def _first(fields: dict[str, list[str]], name: str) -> str | None:
    values = fields.get(name)
    return values[0] if values else None


def _headers_from_fields(fields: dict[str, list[str]]) -> Headers:
    ctype, params = split_content_type(_first(fields, "content-type"))
    hint = params.get("charset")
    senders = _addresses(fields.get("from", []), hint, bare=True)
    irt = parse_message_ids(_first(fields, "in-reply-to"), limit=1)
    return Headers(
        message_id=normalize_message_id(_first(fields, "message-id")),
        in_reply_to=irt[0] if irt else None,
        references=tuple(parse_message_ids(" ".join(fields.get("references", [])))),
        from_addr=(senders[0][1] or None) if senders else None,
        from_name=senders[0][0] if senders else "",
        to=_address_list(fields.get("to", [])),
        cc=_address_list(fields.get("cc", [])),
        reply_to=_address_list(fields.get("reply-to", [])),
        subject=decode_header_value(_first(fields, "subject") or "", hint).strip(),
        date=_parse_date(_first(fields, "date")),
        content_type=ctype,
        report_type=(params.get("report-type") or "").lower() or None,
        auto_submitted=_first(fields, "auto-submitted"),
        x_autoreply=_first(fields, "x-autoreply"),
        x_autorespond=_first(fields, "x-autorespond"),
        precedence=_first(fields, "precedence"),
        x_auto_response_suppress=_first(fields, "x-auto-response-suppress"),
        list_id=_first(fields, "list-id"),
        list_unsubscribe=_first(fields, "list-unsubscribe"),
        return_path=_first(fields, "return-path"),
    )


def parse_headers(raw_header_bytes: bytes) -> Headers:
    """Parse a header block (or a whole message: parsing stops at the first blank line).

    Never raises: unreadable input gives an empty `Headers`.
    """
    try:
        return _headers_from_fields(_split_header(normalize_newlines(bytes(raw_header_bytes)))[0])
    except Exception:  # noqa: BLE001 - sync must go on; the caller still has the raw bytes
        return Headers()


# --- full message ---------------------------------------------------------------------------


def _looks_like_rfc5322(raw: bytes) -> bool:
    if not raw.strip() or raw.startswith(_OLE_MAGIC):
        return False
    first = raw.lstrip(b"\n").split(b"\n", 1)[0]
    return bool(_HEADER_LINE.match(first)) or first.startswith(b"From ")


def looks_like_message(raw: bytes) -> bool:
    """Whether `raw` is an RFC 5322 message at all (not empty, not a binary Outlook .msg)."""
    return _looks_like_rfc5322(normalize_newlines(bytes(raw)))


def raw_header(part: Message, name: str) -> str:
    """Return a header of a compat32 part, unfolded, with 8-bit bytes still surrogate-escaped."""
    # part.get() wraps a header holding 8-bit bytes in a Header object whose str() has
    # already replaced them; raw_items() gives the surrogate-escaped value, decodable later.
    for key, value in part.raw_items():
        if key.lower() == name:
            return _unfold(value if isinstance(value, str) else str(value))
    return ""


def payload_bytes(part: Message) -> tuple[bytes, list[str]]:
    """Return a leaf part's payload decoded from its transfer encoding, and any defects."""
    # compat32's get_payload() re-decodes 8-bit payloads with the declared charset (replacing
    # what it cannot read) and get_payload(decode=True) trusts the raw CTE string; _payload is
    # the one place the undecoded text lives, surrogate-escaped.
    payload = getattr(part, "_payload", None)
    if not isinstance(payload, str):
        return b"", []
    data = payload.encode("utf-8", "surrogateescape")
    cte_match = _CTE_TOKEN.match(raw_header(part, "content-transfer-encoding").strip().lower())
    cte = cte_match.group(0) if cte_match else ""
    if cte == "base64":
        decoded, damaged = b64decode_lenient(data)
        return decoded, ["truncated or invalid base64"] if damaged else []
    if cte in ("quoted-printable", "qp"):
        return binascii.a2b_qp(data), []
    if cte in ("x-uuencode", "uuencode", "x-uue", "uue"):
        try:
            return part.get_payload(decode=True) or b"", []
        except Exception:  # noqa: BLE001 - compat32's uu path raises on some garbage
            return data, ["undecodable uuencode"]
    return data, []


def _part_size(part: Message, data: bytes | None) -> int:
    if data is not None:
        return len(data)
    try:
        return len(part.as_bytes())
    except Exception:  # noqa: BLE001 - serialising a broken nested message can fail
        return 0


def _walk(msg: Message, defects: list[str]):
    """Yield the leaf parts, iteratively and with caps (recursive walk() overflows on bombs)."""
    stack: list[tuple[Message, int]] = [(msg, 0)]
    count = 0
    while stack:
        part, depth = stack.pop()
        count += 1
        if count > MAX_PARTS:
            defects.append("too many MIME parts")
            return
        payload = part.get_payload()
        if part.is_multipart() and part.get_content_maintype() == "multipart":
            if depth >= MAX_DEPTH:
                defects.append("MIME nesting too deep")
                continue
            stack.extend((child, depth + 1) for child in reversed(payload))
        else:
            yield part


@dataclass(frozen=True, slots=True)
class _Leaf:
    """A leaf part: a body text (`attachment` None) or an attachment; `data` is None for a
    part whose payload is a list (a message/rfc822 part, say)."""

    content_type: str
    charset: str | None
    data: bytes | None
    attachment: Attachment | None


def _leaves(msg: Message, defects: list[str]):
    """Yield the leaf parts of a message, each a body text or an attachment."""
    for part in _walk(msg, defects):
        defects.extend(type(d).__name__ for d in part.defects)
        ctype, params = split_content_type(raw_header(part, "content-type") or None)
        if ctype.startswith("multipart/"):
            ctype = "text/plain"  # a multipart without a usable boundary: its body is text
        disp_value = raw_header(part, "content-disposition")
        disposition = disp_value.split(";", 1)[0].strip().lower()
        filename = header_params(disp_value).get("filename") or params.get("name") or ""
        # A path (Netscape's C:\TEMP\x.png) is never wanted in a download name.
        filename = _WS.sub(" ", decode_header_value(filename)).strip()
        filename = re.split(r"[\\/]", filename)[-1].strip()
        is_list = isinstance(part.get_payload(), list)
        data, part_defects = (None, []) if is_list else payload_bytes(part)
        defects.extend(part_defects)
        if (
            ctype in ("text/plain", "text/html")
            and disposition != "attachment"
            and not filename
            and data is not None
        ):
            yield _Leaf(ctype, params.get("charset"), data, None)
            continue
        cid = normalize_message_id(raw_header(part, "content-id") or None)
        attachment = Attachment(
            filename=filename,
            content_type=ctype,
            size=_part_size(part, data),
            content_id=cid[1:-1] if cid else None,
            is_inline=disposition == "inline" or (not disposition and cid is not None),
        )
        yield _Leaf(ctype, params.get("charset"), data, attachment)


def _parse_message(raw: bytes) -> ParsedMessage:
    raw = normalize_newlines(raw)
    if not _looks_like_rfc5322(raw):
        return ParsedMessage(Headers(), "", "", (), True, ("not an RFC 5322 message",))
    fields, defects, header_block, body = _split_header(raw)
    headers = _headers_from_fields(fields)
    msg = email.message_from_bytes(header_block + b"\n\n" + body, policy=compat32)

    texts: list[str] = []
    htmls: list[str] = []
    attachments: list[Attachment] = []
    for leaf in _leaves(msg, defects):
        if leaf.attachment is None:
            text, fallback = decode_bytes(leaf.data, leaf.charset)
            if fallback:
                defects.append(f"charset fallback for {leaf.charset or 'none'}")
            (htmls if leaf.content_type == "text/html" else texts).append(text)
        else:
            attachments.append(leaf.attachment)
    defects = list(dict.fromkeys(defects))
    return ParsedMessage(
        headers=headers,
        text="\n".join(texts),
        html="\n".join(htmls),
        attachments=tuple(attachments),
        malformed=False,
        defects=tuple(defects),
    )


# Inline images a message body may show through cid: URLs: the raster types the sanitizer
# allows as data: URLs (never SVG), and at most this many bytes of them for one message.
INLINE_IMAGE_TYPES = frozenset(
    {"image/png", "image/gif", "image/jpeg", "image/jpg", "image/webp", "image/bmp"}
)
INLINE_IMAGES_MAX_BYTES = 10 * 1024 * 1024


def inline_images(raw: bytes) -> dict[str, tuple[str, bytes]]:
    """The message's images that have a Content-ID: {content id: (content type, bytes)}.

    What its HTML's `cid:` URLs name (the id without angle brackets, as those URLs write it).
    Raster types only, INLINE_IMAGES_MAX_BYTES in all (the first ones win). Never raises.
    """
    found: dict[str, tuple[str, bytes]] = {}
    try:
        raw = normalize_newlines(bytes(raw or b""))
        if not raw or not _looks_like_rfc5322(raw):
            return found
        _, _, header_block, body = _split_header(raw)
        msg = email.message_from_bytes(header_block + b"\n\n" + body, policy=compat32)
        total = 0
        for part in _walk(msg, []):
            ctype, _ = split_content_type(raw_header(part, "content-type") or None)
            cid = normalize_message_id(raw_header(part, "content-id") or None)
            if ctype not in INLINE_IMAGE_TYPES or not cid:
                continue
            data, _ = payload_bytes(part)
            if not data or total + len(data) > INLINE_IMAGES_MAX_BYTES:
                continue
            total += len(data)
            found.setdefault(cid[1:-1], ("image/jpeg" if ctype == "image/jpg" else ctype, data))
    except Exception:  # noqa: BLE001 - a picture missing is better than a page failing
        return found
    return found


def attached_files(raw: bytes) -> list[tuple[Attachment, bytes]]:
    """The files a message carries, with their bytes, in order: every attachment but the
    images its HTML shows through cid: URLs (`inline_images`). What a forward carries on.
    Never raises: a message that cannot be read carries nothing."""
    try:
        raw = normalize_newlines(bytes(raw or b""))
        if not raw or not _looks_like_rfc5322(raw):
            return []
        _, _, header_block, body = _split_header(raw)
        msg = email.message_from_bytes(header_block + b"\n\n" + body, policy=compat32)
        return [
            (leaf.attachment, leaf.data)
            for leaf in _leaves(msg, [])
            if leaf.attachment is not None
            and leaf.data is not None
            and not (leaf.attachment.is_inline and leaf.attachment.content_id)
        ]
    except Exception:  # noqa: BLE001 - a forward without the files beats a page failing
        return []


def parse_message(raw: bytes) -> ParsedMessage:
    """Parse a whole message: headers, text and raw HTML bodies, attachments, defects.

    Never raises. `malformed=True` means the bytes are not an RFC 5322 message (a binary
    Outlook .msg, an empty file) or the parser gave up; keep the raw bytes and flag the row.
    """
    try:
        return _parse_message(bytes(raw))
    except Exception as exc:  # noqa: BLE001 - the contract is "never raise, lose nothing"
        try:
            headers = parse_headers(raw)
        except Exception:  # noqa: BLE001
            headers = Headers()
        return ParsedMessage(headers, "", "", (), True, (f"parser error: {type(exc).__name__}",))
