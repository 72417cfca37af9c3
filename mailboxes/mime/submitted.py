"""A message a client wrote itself (the SMTP API): sent as written, but for three changes the
outbox makes (`enqueue._write`): the Message-ID is the CRM's (bounces and replies find the row
by it, as Amazon SES does), a Bcc header is dropped (RCPT TO carries the Bcc recipients), and
the first HTML body part carries the tracked links and the open pixel.

The headers are edited as bytes, so a message the parser would mend is not rebuilt for them;
only the HTML part's change rebuilds the MIME tree (compat32, which writes back what it read).
Never raises: a message whose HTML part cannot be put back goes out untracked, as written.
"""

from __future__ import annotations

import email
import logging
import re
from email.charset import QP, Charset
from email.message import Message
from email.policy import compat32

from mailboxes.mime.parsing import (
    decode_bytes,
    normalize_newlines,
    payload_bytes,
    raw_header,
    split_content_type,
)

log = logging.getLogger(__name__)

_DROPPED = (b"message-id", b"bcc")
_FIELD = re.compile(rb"^([!-9;-~]+)[ \t]*:")
_UTF8_QP = Charset("utf-8")
_UTF8_QP.body_encoding = QP


def parse(raw: bytes) -> Message | None:
    """The message's MIME tree (compat32), parsed once for `html_of` and `rewritten`; None
    when it cannot be read (it then goes out as written, untracked)."""
    try:
        return email.message_from_bytes(normalize_newlines(bytes(raw)), policy=compat32)
    except Exception:  # noqa: BLE001 - an unreadable message is sent as written, untracked
        return None


def rewritten(raw: bytes, message_id: str, html: str | None, tree: Message | None = None) -> bytes:
    """`raw` with `message_id` as its Message-ID, no Bcc header and, when `html` is given,
    that HTML as its first HTML body part (the tracked version of what `html_part` found).
    `tree` is `parse(raw)` when the caller has it (it is changed here: use it once)."""
    raw = normalize_newlines(bytes(raw))
    if html is not None:
        try:
            raw = _with_html(tree or email.message_from_bytes(raw, policy=compat32), html, raw)
        except Exception:  # noqa: BLE001 - sent untracked beats refused after the 250
            log.warning("SMTP API: a message's HTML part could not be replaced; sent untracked")
    head, sep, body = _split(raw)
    kept = _drop_fields(head)
    out = b"Message-ID: " + message_id.encode() + b"\n" + kept + sep + body
    return out.replace(b"\n", b"\r\n")  # SMTP's line ends, which the relay's DKIM signs


def html_of(raw: bytes, tree: Message | None = None) -> str | None:
    """The text of the message's first HTML body part (what gets tracked), or None; `tree`
    is `parse(raw)` when the caller has it."""
    try:
        part = html_part(
            tree or email.message_from_bytes(normalize_newlines(bytes(raw)), policy=compat32)
        )
        if part is None:
            return None
        data, _ = payload_bytes(part)
        return decode_bytes(data, part.get_content_charset())[0]
    except Exception:  # noqa: BLE001 - an unreadable HTML part is sent as written, untracked
        return None


def _split(raw: bytes) -> tuple[bytes, bytes, bytes]:
    end = raw.find(b"\n\n")
    if end < 0:
        return raw, b"", b""
    return raw[: end + 1], b"\n", raw[end + 2 :]


def _drop_fields(head: bytes) -> bytes:
    """The header block without its Message-ID and Bcc fields (continuation lines too)."""
    out, dropping = [], False
    for line in head.splitlines(keepends=True):
        if line[:1] in (b" ", b"\t"):
            if not dropping:
                out.append(line)
            continue
        match = _FIELD.match(line)
        dropping = bool(match) and match.group(1).lower() in _DROPPED
        if not dropping:
            out.append(line)
    return b"".join(out)


def html_part(msg: Message) -> Message | None:
    """The first text/html part that is a body (not an attachment), depth first."""
    stack = [msg]
    seen = 0
    while stack and seen < 500:  # a part bomb is left untracked
        part = stack.pop(0)
        seen += 1
        if part.is_multipart():
            stack[:0] = [p for p in part.get_payload() if isinstance(p, Message)]
            continue
        ctype, _ = split_content_type(raw_header(part, "content-type") or None)
        disposition = raw_header(part, "content-disposition").split(";", 1)[0].strip().lower()
        if ctype == "text/html" and disposition != "attachment":
            return part
    return None


def _with_html(msg: Message, html: str, raw: bytes) -> bytes:
    part = html_part(msg)
    if part is None:
        return raw
    del part["Content-Transfer-Encoding"]
    # Quoted-printable keeps lines under SMTP's 1,000 octets whatever the tracked links' length.
    part.set_payload(html, _UTF8_QP)
    return msg.as_bytes(policy=compat32)
