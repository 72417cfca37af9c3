"""The Gmail API's wire formats: the quota units of a call, a batch request's multipart
answer split into its parts, the users/me URLs, the adapter's cursors, history records folded
into arrivals and deletions, a metadata reply as a FetchedHeader, base64url, and the checks
and Bcc envelope of a send."""

from __future__ import annotations

import base64
import binascii
import json as jsonlib
import re
from datetime import UTC, datetime

import requests
import requests.structures

from mailboxes.providers.base import (
    FetchedHeader,
    ProviderError,
    Sentence,
    gettext_noop,
)
from mailboxes.providers.gmail_errors import SERVER_ERROR_RETRY_AFTER
from mailboxes.providers.headers import (
    CONTROL_CHARS,
    decode_encoded_words,
    decode_text,
    header_ids,
    normalize_message_id,
    parse_addresses,
    parse_date,
    split_header_fields,
)


def call_units(method: str, path: str) -> int:
    """The quota units Google counts for one call under users/me (its quota reference)."""
    if method == "POST":
        return 100  # messages.send
    if path == "messages" or path.startswith("messages/"):
        return 5  # messages.list, messages.get
    if path == "history":
        return 2
    return 1  # getProfile, labels, settings.sendAs


class PartAnswer:
    """One answer of a batch request, read like a requests.Response by the error mappers."""

    def __init__(self, status: int, headers: dict, content: bytes, url: str) -> None:
        self.status_code = status
        self.headers = requests.structures.CaseInsensitiveDict(headers)
        self.content = content
        self.url = url

    def json(self):
        return jsonlib.loads(self.content)


BATCH_PART = re.compile(rb"(?i)content-id:\s*<response-item(\d+)>")


def split_head(data: bytes) -> tuple[bytes, bytes]:
    """Split a header block from what follows its blank line."""
    blank = re.search(rb"\r?\n\r?\n", data)
    return (data[: blank.start()], data[blank.end() :]) if blank else (data, b"")


def split_batch(response: requests.Response, action: str) -> dict[int, PartAnswer]:
    """Split a multipart/mixed batch answer into its parts, by the number of their item."""
    match = re.search(r'boundary="?([^";]+)"?', response.headers.get("Content-Type", ""))
    if match is None:
        raise ProviderError(
            Sentence(
                gettext_noop("Gmail's batch answer while %(action)s was not multipart."),
                action=action,
            ),
            stage="protocol",
            retry_after=SERVER_ERROR_RETRY_AFTER,
        )
    answers = {}
    for chunk in response.content.split(b"--" + match.group(1).encode())[1:]:
        if chunk.startswith(b"--"):
            break
        head, http = split_head(chunk.lstrip(b"\r\n"))
        item = BATCH_PART.search(head)
        status_block, payload = split_head(http)
        lines = status_block.splitlines()
        if item is None or not lines or len(lines[0].split()) < 2:
            continue
        fields = dict(line.decode("latin-1").split(":", 1) for line in lines[1:] if b":" in line)
        answers[int(item.group(1))] = PartAnswer(
            int(lines[0].split()[1]),
            {k.strip(): v.strip() for k, v in fields.items()},
            payload,
            response.url,
        )
    return answers


def api_url(api_base: str, path: str, upload: bool = False) -> str:
    """Return the URL of a users/me endpoint (or its media-upload twin)."""
    prefix = "upload/gmail/v1/users/me/" if upload else "gmail/v1/users/me/"
    return api_base.rstrip("/") + "/" + prefix + path


def parse_cursor(cursor: str) -> tuple[str, str, str | None]:
    """Return (kind, historyId, page token) from a cursor; kind is "" when unusable."""
    parts = (cursor or "").split(":", 2)
    if parts[0] in ("init", "h") and len(parts) >= 2 and parts[1].isdigit():
        return parts[0], parts[1], (parts[2] if len(parts) == 3 and parts[2] else None)
    return "", "", None


def require_history_id(body: dict) -> str:
    """Return the body's historyId, which every profile and history reply carries."""
    history_id = str(body.get("historyId", ""))
    if not history_id.isdigit():
        raise ProviderError(
            Sentence(gettext_noop("The Gmail API answered without a historyId.")),
            stage="protocol",
            permanent=True,
        )
    return history_id


class HistoryChanges:
    """Fold history records into messages that arrived in a label and ones deleted."""

    def __init__(self, label: str) -> None:
        self.label = label
        self._added: dict[str, None] = {}
        self._deleted: dict[str, None] = {}

    @property
    def added(self) -> list[str]:
        return list(self._added)

    @property
    def deleted(self) -> list[str]:
        return list(self._deleted)

    def add_record(self, record: dict) -> None:
        for entry in record.get("messagesAdded", []):
            self._arrived(entry.get("message", {}))
        for entry in record.get("labelsAdded", []):
            # Moved into the label (un-archived, a filter ran later): it arrives now.
            if self.label in entry.get("labelIds", []):
                self._arrived(entry.get("message", {}))
        for entry in record.get("messagesDeleted", []):
            message_id = str(entry.get("message", {}).get("id", ""))
            if message_id:
                self._added.pop(message_id, None)
                self._deleted[message_id] = None

    def _arrived(self, message: dict) -> None:
        message_id = str(message.get("id", ""))
        if message_id:
            self._deleted.pop(message_id, None)
            self._added[message_id] = None


def header_from_metadata(message: dict) -> FetchedHeader:
    """Build a FetchedHeader from a messages.get(format=metadata) reply.

    `raw_headers` is rebuilt as "Name: value" lines from the JSON, in Gmail's order. Header
    values are run through the same defensive decoding as IMAP's: Gmail passes
    RFC 2047 encoded words through, and decoding already-decoded text changes nothing.
    """
    fields: dict[str, list[bytes]] = {}
    block: list[bytes] = []
    for item in message.get("payload", {}).get("headers", []):
        name = CONTROL_CHARS.sub("", str(item.get("name", ""))).strip()
        if name:
            # JSON may carry lone surrogates; they become U+FFFD like any undecodable byte.
            value = str(item.get("value", "")).encode("utf-8", "replace")
            fields.setdefault(name.lower(), []).append(value)
            # Line breaks inside a value would forge extra header lines in the rebuilt block.
            flat = value.replace(b"\r", b" ").replace(b"\n", b" ")
            block.append(name.encode("utf-8", "replace") + b": " + flat + b"\r\n")

    def text(name: str) -> str:
        return decode_text(fields[name][0]) if name in fields else ""

    senders = parse_addresses(fields.get("from", []))
    return FetchedHeader(
        ref=str(message.get("id", "")),
        message_id=normalize_message_id(text("message-id")),
        in_reply_to=next(iter(header_ids(fields, "in-reply-to")), None),
        references=tuple(header_ids(fields, "references")),
        from_addr=senders[0][1] if senders else "",
        to_addrs=tuple(a for _, a in parse_addresses(fields.get("to", []))),
        cc_addrs=tuple(a for _, a in parse_addresses(fields.get("cc", []))),
        subject=decode_encoded_words(fields["subject"][0]) if "subject" in fields else "",
        date=parse_date(fields.get("date", []), internal_date(message)),
        size=int(message.get("sizeEstimate") or 0),
        flags=tuple(str(label) for label in message.get("labelIds", [])),
        from_name=senders[0][0] if senders else "",
        raw_headers=b"".join(block),
    )


def internal_date(message: dict) -> datetime | None:
    """Return Gmail's internalDate (epoch milliseconds as a string) as a UTC datetime."""
    try:
        return datetime.fromtimestamp(int(message["internalDate"]) / 1000, UTC)
    except (KeyError, TypeError, ValueError, OverflowError, OSError):
        return None


def b64url_encode(data: bytes) -> str:
    """Encode bytes as unpadded base64url, the form Gmail's JSON fields use."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(value: str) -> bytes:
    """Decode base64url with or without padding (Gmail omits it)."""
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ProviderError(
            Sentence(gettext_noop("Gmail returned a message that is not valid base64url.")),
            stage="protocol",
        ) from exc


def can_send(scopes) -> bool:
    """Tell whether the granted scopes allow messages.send."""
    senders = {
        "https://www.googleapis.com/auth/gmail.send",
        "https://www.googleapis.com/auth/gmail.compose",
        "https://www.googleapis.com/auth/gmail.modify",
        "https://mail.google.com/",
    }
    return bool(senders.intersection(scopes))


def check_recipients(recipients: list[str]) -> None:
    """Refuse a send with no recipient or with a line break that could forge headers."""
    if not recipients:
        raise ProviderError(
            Sentence(gettext_noop("Refusing to send: the message has no recipients.")),
            permanent=True,
        )
    for address in recipients:
        if "\r" in address or "\n" in address or "," in address:
            raise ProviderError(
                Sentence(
                    gettext_noop(
                        "Refusing to send: the recipient %(address)r is not a single address."
                    ),
                    address=address,
                ),
                permanent=True,
            )


def with_envelope_bcc(raw: bytes, recipients: list[str]) -> bytes:
    """Add a Bcc header for envelope recipients that no To, Cc or Bcc header names.

    The SMTP path delivers to the envelope; Gmail delivers to headers. Adding Bcc makes
    both paths reach the same people. Raw bytes are otherwise left untouched.
    """
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    fields = split_header_fields(head)
    named = {
        address.casefold()
        for name in ("to", "cc", "bcc")
        for _, address in parse_addresses(fields.get(name, []))
    }
    missing = [r for r in dict.fromkeys(recipients) if r.casefold() not in named]
    if not missing:
        return raw
    newline = b"\r\n" if b"\r\n" in head or not head else b"\n"
    value = ("," + newline.decode() + " ").join(missing).encode("utf-8")
    return b"Bcc: " + value + newline + raw
