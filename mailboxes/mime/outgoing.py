"""The bytes of an outgoing email, as the enqueue service stores them (outbox/enqueue.py).

`email_bytes(headers, text, html, attachments)` builds them. What goes out is defined by
Python's `email` package (`policy.SMTP`: CRLF, headers folded at 78): `by_email_package` is
that definition. It costs about 2 ms an email, nearly all of it parsing each header into the
policy's header objects and folding them again, which is what a sequence's tick spent most of
its time on. So the common shape, a text and an HTML alternative without attachments, is
written directly by `alternative`, with the same bytes: the fixed MIME headers as the package
writes them, the bodies through the same quoted-printable encoder
(`email.quoprimime.body_encode`), the boundary drawn the same way, and each header written
straight when its value is plain ASCII of a shape whose folding is known (`_plain_header`),
else folded by the package itself (`_folded_by_package`). tests/mailboxes/test_outgoing_mime.py
compares the two over many varied emails; an email with attachments always goes through the
package. One departure from the package, in both: the headers of message ids and URLs
(`RAW_HEADERS`) are folded at spaces only, never written as encoded words.
"""

import mimetypes
import random
import re
import sys
from base64 import b64encode
from dataclasses import dataclass
from email import policy
from email.headerregistry import HeaderRegistry, UnstructuredHeader
from email.message import EmailMessage as MimeMessage
from email.quoprimime import body_encode

MAX_LINE = policy.SMTP.max_line_length  # 78
CRLF = "\r\n"
# Written by `_raw` in both builders: message ids and URLs, never encoded (see _IdentifierHeader).
RAW_HEADERS = frozenset({"in-reply-to", "references", "list-unsubscribe", "list-unsubscribe-post"})


@dataclass
class Attachment:
    filename: str
    content_type: str
    data: bytes
    content_id: str = ""  # inline images only


def email_bytes(
    headers: list[tuple[str, str]], text: str, html: str, attachments: list[Attachment] = ()
) -> bytes:
    """The email's bytes: `headers` in order, then a text and an HTML alternative, and any
    attachments (inline ones, with a content id, related to the HTML)."""
    if attachments:
        return by_email_package(headers, text, html, attachments)
    return alternative(headers, text, html)


# -- the definition: Python's email package ---------------------------------------------------


class _IdentifierHeader(UnstructuredHeader):
    """A header whose value is message ids or URLs (`RAW_HEADERS`): folded at spaces only,
    never as RFC 2047 encoded words, which the package writes for a word longer than a line
    and no reader decodes there (a Gmail Message-ID in In-Reply-To, a one-click URL)."""

    def fold(self, *, policy):
        return _raw(self.name, str(self))


_HEADERS = HeaderRegistry()
for _name in RAW_HEADERS:
    _HEADERS.map_to_type(_name, _IdentifierHeader)
_POLICY = policy.default.clone(header_factory=_HEADERS)


def by_email_package(
    headers: list[tuple[str, str]], text: str, html: str, attachments: list[Attachment] = ()
) -> bytes:
    mime = MimeMessage(policy=_POLICY)
    for name, value in headers:
        mime[name] = value
    # Quoted-printable keeps every line under SMTP's 1,000-octet limit: an editor's HTML (and
    # tracked links) often sits on one very long line that servers refuse.
    mime.set_content(text, cte="quoted-printable")
    mime.add_alternative(html, subtype="html", cte="quoted-printable")
    html_part = mime.get_payload()[-1]
    for attachment in attachments:
        maintype, _, subtype = (
            attachment.content_type
            or mimetypes.guess_type(attachment.filename)[0]
            or "application/octet-stream"
        ).partition("/")
        if attachment.content_id:
            html_part.add_related(
                attachment.data,
                maintype,
                subtype,
                cid=f"<{attachment.content_id}>",
                filename=attachment.filename,
            )
        else:
            mime.add_attachment(
                attachment.data,
                maintype=maintype,
                subtype=subtype or "octet-stream",
                filename=attachment.filename,
            )
    return mime.as_bytes(policy=policy.SMTPUTF8 if needs_utf8(headers) else policy.SMTP)


def needs_utf8(headers: list[tuple[str, str]]) -> bool:
    """Whether an address of the email has a non-ASCII mailbox (`josé@example.com`): then the
    whole email is written as RFC 6532 has it, headers in UTF-8, and sent with SMTPUTF8
    (providers/imap_smtp.py `utf8_options`). Written for SMTP instead, the package would put
    encoded words inside the address, which no reader decodes there. A non-ASCII display name
    alone is written as encoded words, as before."""
    for name, value in headers:
        if name.lower() in _ADDRESS_HEADERS and not value.isascii():
            parsed = policy.default.header_store_parse(name, value)[1]
            if any(not address.addr_spec.isascii() for address in parsed.addresses):
                return True
    return False


_ADDRESS_HEADERS = frozenset({"from", "to", "cc", "bcc", "reply-to", "sender"})


# -- the same bytes, written directly -----------------------------------------------------------

# The headers the package writes for this shape. The text part is the message's own content
# moved into a part (no MIME-Version); the HTML part is a new message, which gets one.
_TEXT_PART = (
    'Content-Type: text/plain; charset="utf-8"' + CRLF
    + "Content-Transfer-Encoding: quoted-printable" + CRLF + CRLF
)  # fmt: skip
_HTML_PART = (
    'Content-Type: text/html; charset="utf-8"' + CRLF
    + "Content-Transfer-Encoding: quoted-printable" + CRLF
    + "MIME-Version: 1.0" + CRLF + CRLF
)  # fmt: skip
_BOUNDARY_WIDTH = len(repr(sys.maxsize - 1))


def alternative(headers: list[tuple[str, str]], text: str, html: str) -> bytes:
    """`by_email_package` for an email without attachments, byte for byte."""
    parts = [_TEXT_PART + _qp(text), _HTML_PART + _qp(html)]
    boundary = _boundary(CRLF.join(parts))
    utf8 = needs_utf8(headers)
    out = [_header(name, value, utf8=utf8) for name, value in headers]
    out.append("MIME-Version: 1.0" + CRLF)
    out.append(f'Content-Type: multipart/alternative;{CRLF} boundary="{boundary}"{CRLF}{CRLF}')
    out.append(f"--{boundary}{CRLF}")
    out.append(f"{CRLF}--{boundary}{CRLF}".join(parts))
    out.append(f"{CRLF}--{boundary}--{CRLF}")
    return "".join(out).encode("utf-8" if utf8 else "ascii")


def _qp(content: str) -> str:
    """A body as the package encodes it (contentmanager's `_encode_text`), lines ending CRLF."""
    lines = content.encode("utf-8").splitlines()
    encoded = body_encode((b"\n".join(lines) + b"\n").decode("latin-1"), MAX_LINE)
    return re.sub(r"\r\n|\r|\n", CRLF, encoded)


def _boundary(text: str) -> str:
    """A boundary drawn as the package's generator draws it (one `random.randrange`), made
    unique against the parts the same way (quoted-printable escapes "=", so in practice it
    always is)."""
    boundary = "=" * 15 + str(random.randrange(sys.maxsize)).zfill(_BOUNDARY_WIDTH) + "=="
    if "--" + boundary not in text:  # a new regex a boundary: checked only when it may match
        return boundary
    unique, counter = boundary, 0
    while re.search("^--" + re.escape(unique) + "(--)?$", text, re.MULTILINE):
        unique = f"{boundary}.{counter}"
        counter += 1
    return unique


# -- headers ------------------------------------------------------------------------------------

# Printable ASCII words separated by single spaces: what these fast paths accept at all; no
# "=?", which the package would read as an encoded word.
_WORDS = re.compile(r"[!-~]+(?: [!-~]+)*\Z")
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_DOT_ATOM = rf"{_ATEXT}+(?:\.{_ATEXT}+)*"
_ADDR = rf"{_DOT_ATOM}@{_DOT_ATOM}"
_MAILBOX = rf"(?:{_ATEXT}+(?: {_ATEXT}+)* <{_ADDR}>|{_ADDR})"
# Headers whose value the package parses as something other than unstructured text, and the
# plain values of theirs that it writes back unchanged.
_STRUCTURED = {
    "from": re.compile(rf"{_MAILBOX}(?:, {_MAILBOX})*\Z"),
    "to": re.compile(rf"{_MAILBOX}(?:, {_MAILBOX})*\Z"),
    "cc": re.compile(rf"{_MAILBOX}(?:, {_MAILBOX})*\Z"),
    "message-id": re.compile(rf"<{_ADDR}>\Z"),
    "date": re.compile(
        r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), [0-3]\d "
        r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} "
        r"[0-2]\d:[0-5]\d:[0-5]\d [+-]\d{4}\Z"
    ),
}
_PACKAGE_PARSES = {
    "sender", "reply-to", "bcc", "mime-version", "content-type", "content-disposition",
    "content-transfer-encoding", "orig-date",
}  # fmt: skip


def _header(name: str, value: str, *, utf8: bool = False) -> str:
    if name.lower() in RAW_HEADERS:
        return _raw(name, value)
    if utf8:  # rare: every header folded by the package, for SMTPUTF8
        return _folded_by_package(name, value, utf8=True)
    return _plain_header(name, value) or _folded_by_package(name, value)


def _raw(name: str, value: str) -> str:
    """`name: value` folded at spaces before a word that would pass the 78th column; a word
    longer than a line stays whole (RFC 5322 allows 998)."""
    if "\r" in value or "\n" in value:
        raise ValueError("Header values may not contain linefeed or carriage return characters")
    lines = [f"{name}:"]
    for word in value.split():
        if len(lines) > 1 or len(lines[0]) > len(name) + 1:
            if len(lines[-1]) + 1 + len(word) > MAX_LINE:
                lines.append("")
        lines[-1] += " " + word
    return CRLF.join(lines) + CRLF


def _folded_by_package(name: str, value: str, *, utf8: bool = False) -> str:
    header = policy.default.header_store_parse(name, value)[1]
    return header.fold(policy=policy.SMTPUTF8 if utf8 else policy.SMTP)


def _plain_header(name: str, value: str) -> str | None:
    """The header as the package writes it, when its value is of a shape whose folding is
    known; None otherwise."""
    if not _WORDS.match(value) or "=?" in value:
        return None
    key = name.lower()
    line = f"{name}: {value}"
    if key in _STRUCTURED:
        # Written back as given when it fits on the line; folding is left to the package.
        return line + CRLF if len(line) <= MAX_LINE and _STRUCTURED[key].match(value) else None
    if key.startswith("resent-") or key in _PACKAGE_PARSES:
        return None
    return _unstructured(name, value)


def _unstructured(name: str, value: str) -> str | None:
    """Unstructured text folded as `email._header_value_parser._refold_parse_tree` folds it:
    on one line if it fits; else alone on the next line if it fits there; else word by word,
    each word that does not fit starting a new line; a single word too long for any line as
    encoded words (`_fold_as_ew`). Other shapes (a long word among others): None."""
    label = f"{name}:"
    if len(label) + 1 + len(value) <= MAX_LINE:
        return f"{label} {value}{CRLF}"
    if len(value) + 1 <= MAX_LINE:
        return f"{label}{CRLF} {value}{CRLF}"
    words = value.split(" ")
    if len(words) == 1:
        return CRLF.join(_encoded_words(value, [f"{label} "])) + CRLF
    if any(len(word) + 1 > MAX_LINE for word in words):
        return None
    lines = [f"{label} "]
    for i, word in enumerate(words):
        if i:
            if len(lines[-1]) + 1 <= MAX_LINE:
                lines[-1] += " "
            else:
                lines.append(" ")
        if len(word) <= MAX_LINE - len(lines[-1]):
            lines[-1] += word
        else:
            wsp = " " if lines[-1].endswith(" ") else ""
            lines[-1] = lines[-1][: len(lines[-1]) - len(wsp)]
            lines.append(wsp + word)
    return CRLF.join(lines) + CRLF


# RFC 2047 Q encoding of one byte, as email._encoded_words writes it.
_Q_SAFE = frozenset(b"-!*+/ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
_Q = ["_" if b == 32 else chr(b) if b in _Q_SAFE else f"={b:02X}" for b in range(256)]
_CHROME = len("=?utf-8?q??=")


def _encoded_words(word: str, lines: list[str]) -> list[str]:
    """`_fold_as_ew` for one ASCII word and no encoded word before it: chunks as long as the
    line allows, each Q- or B-encoded as `_encoded_words.encode` chooses (Q unless it is 5 or
    more characters longer), shortened one character at a time until it fits."""
    q_lengths = [len(_Q[b]) for b in word.encode("ascii")]
    while word:
        remaining = MAX_LINE - len(lines[-1])
        take = min(remaining - _CHROME, len(word))
        if take <= 0:
            lines.append(" ")
            continue
        q_len = sum(q_lengths[:take])
        while True:
            b_len = (take + 2) // 3 * 4
            use_q = q_len - b_len < 5
            if _CHROME + (q_len if use_q else b_len) <= remaining:
                break
            take -= 1
            q_len -= q_lengths[take]
        chunk = word[:take].encode("ascii")
        if use_q:
            lines[-1] += "=?utf-8?q?" + "".join(_Q[b] for b in chunk) + "?="
        else:
            lines[-1] += "=?utf-8?b?" + b64encode(chunk).decode("ascii") + "?="
        word, q_lengths = word[take:], q_lengths[take:]
        if word:
            lines.append(" ")
    return lines
