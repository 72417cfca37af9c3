"""Microsoft Graph's wire formats: which messages are worth their internet headers, a
message item (and those headers) as a FetchedHeader, the adapter's cursors, the MIME Graph
takes for a send, and a JSON batch's parts."""

from __future__ import annotations

import base64
import binascii
import re
from datetime import UTC, datetime

import requests
import requests.structures

from mailboxes.providers.base import (
    FetchedHeader,
    OutgoingMessage,
    ProviderError,
    Sentence,
    gettext_noop,
)
from mailboxes.providers.headers import (
    CONTROL_CHARS,
    RAW_HEADER_NAMES,
    message_ids,
    normalize_message_id,
    parse_addresses,
    split_header_fields,
)

# Cursor phases (see graph.py's docstring).
BACKFILL, LIVE = "backfill", "live"
# A conversation's first message has a 22-byte conversationIndex; replies append 5 bytes.
ROOT_CONVERSATION_INDEX_BYTES = 22
REPLY_PREFIX = re.compile(
    r"^\s*(?:re|aw|sv|vs|antw|odp|ref|res|rif|fw|fwd|wg|tr|rv|enc|答复|回复|转发|轉寄)"
    r"\s*(?:\[\d+\]|\(\d+\))?\s*[:：]",
    re.IGNORECASE,
)


def looks_like_reply(item: dict) -> bool:
    """Tell whether a message probably answers another, so its headers are worth a GET.

    Exchange grows conversationIndex by 5 bytes per reply level; a reply/forward prefix in
    the subject catches replies whose parent Exchange never saw.
    """
    index = item.get("conversationIndex")
    if isinstance(index, str) and index:
        try:
            if len(base64.b64decode(index)) > ROOT_CONVERSATION_INDEX_BYTES:
                return True
        except (binascii.Error, ValueError):
            pass
    return bool(REPLY_PREFIX.match(str(item.get("subject") or "")))


def clean_text(value: object) -> str:
    """Return a single-line string without control characters."""
    return " ".join(CONTROL_CHARS.sub("", str(value or "")).split())


def recipient(entry: object) -> tuple[str, str]:
    """Return (name, address) of a Graph recipient object, ("", "") when unusable."""
    address = entry.get("emailAddress") if isinstance(entry, dict) else None
    if not isinstance(address, dict):
        return "", ""
    return clean_text(address.get("name")), clean_text(address.get("address"))


def recipients(entries: object) -> tuple[str, ...]:
    """Return the addresses of a Graph recipient list, skipping entries without one."""
    if not isinstance(entries, list):
        return ()
    return tuple(address for _, address in map(recipient, entries) if "@" in address)


def parse_graph_time(value: object) -> datetime | None:
    """Parse Graph's ISO 8601 timestamps ("2024-05-01T10:00:00Z") as aware datetimes."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    # Graph's times are UTC; FetchedHeader promises an aware datetime.
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def header_from_item(item: dict, internet_headers: list[tuple[str, str]] | None) -> FetchedHeader:
    """Build a FetchedHeader from one delta item and, when read, its internet headers.

    Graph has no size property in v1.0, so `size` is 0. sentDateTime is the Date header;
    receivedDateTime the arrival time. `raw_headers` keeps RAW_HEADER_NAMES as
    "Name: value" lines, or is empty when the headers were not read (or Exchange has none,
    as for drafts).
    """
    from_name, from_addr = recipient(item.get("from") or item.get("sender"))
    values: dict[str, str] = {}
    block = []
    for name, value in internet_headers or ():
        flat = CONTROL_CHARS.sub("", value.replace("\r", " ").replace("\n", " "))
        values.setdefault(name.lower(), flat)
        if name.lower() in RAW_HEADER_NAMES:
            # Line breaks inside a value would forge extra lines in the rebuilt block.
            block.append(f"{name}: {flat}\r\n".encode("utf-8", "replace"))
    flags = []
    if item.get("isRead"):
        flags.append("\\Seen")
    if item.get("isDraft"):
        flags.append("\\Draft")
    return FetchedHeader(
        ref=item["id"],
        message_id=normalize_message_id(item.get("internetMessageId")),
        in_reply_to=next(iter(message_ids(values.get("in-reply-to", ""))), None),
        references=tuple(message_ids(values.get("references", ""))),
        from_addr=from_addr,
        to_addrs=recipients(item.get("toRecipients")),
        cc_addrs=recipients(item.get("ccRecipients")),
        subject=clean_text(item.get("subject")),
        date=parse_graph_time(item.get("sentDateTime"))
        or parse_graph_time(item.get("receivedDateTime")),
        size=0,
        flags=tuple(flags),
        from_name=from_name,
        raw_headers=b"".join(block),
    )


def parse_cursor(cursor: str) -> tuple[str, str]:
    """Return (phase, link) from a cursor; ("", "") when it is not one of ours."""
    phase, separator, link = cursor.partition("|")
    if separator and phase in (BACKFILL, LIVE) and link:
        return phase, link
    return "", ""


HEADER_END = re.compile(rb"\r?\n\r?\n")


def mime_for_graph(message: OutgoingMessage) -> bytes:
    """Return the bytes to hand sendMail, with a Bcc header for envelope-only recipients.

    Graph takes recipients from the MIME headers, not from an envelope. Envelope addresses
    missing from To/Cc/Bcc are added as Bcc (Exchange keeps Bcc out of what others see).
    Header addresses missing from the envelope are refused: Graph would send to them, and
    the envelope is what the privacy check approved.
    """
    if not message.recipients:
        raise ProviderError(
            Sentence(gettext_noop("Refusing to send: the message has no recipients.")),
            permanent=True,
        )
    for address in message.recipients:
        if any(c in address for c in "\r\n,;<>"):
            raise ProviderError(
                Sentence(
                    gettext_noop(
                        "Refusing to send: the recipient %(address)r is not a plain address."
                    ),
                    address=address,
                ),
                permanent=True,
            )
    raw = message.raw
    match = HEADER_END.search(raw)
    head_end = match.start() if match else len(raw)
    fields = split_header_fields(raw[:head_end])
    listed = {
        address.lower()
        for name in ("to", "cc", "bcc")
        for _, address in parse_addresses(fields.get(name, []))
    }
    envelope = {address.lower() for address in message.recipients}
    unapproved = sorted(listed - envelope)
    if unapproved:
        raise ProviderError(
            Sentence(
                gettext_noop(
                    "Refusing to send: the message's headers name recipients that are not in its "
                    "envelope (%(addresses)s); Office 365 would deliver to them too."
                ),
                addresses=", ".join(unapproved),
            ),
            permanent=True,
        )
    missing = [address for address in message.recipients if address.lower() not in listed]
    if not missing:
        return raw
    newline = b"\r\n" if b"\r\n" in raw[: head_end + 2] else b"\n"
    bcc = b"Bcc: " + (b"," + newline + b" ").join(a.encode() for a in missing) + newline
    return bcc + raw


class BatchPart:
    """One answer of a JSON batch, read like a requests.Response by the error mappers."""

    def __init__(self, answer: dict) -> None:
        self.status_code = int(answer.get("status") or 0)
        headers = answer.get("headers")
        self.headers = requests.structures.CaseInsensitiveDict(
            headers if isinstance(headers, dict) else {}
        )
        self._body = answer.get("body")

    def json(self):
        if isinstance(self._body, str):
            raise ValueError("not JSON")
        return self._body


def batch_bytes(answer: dict, action: str) -> bytes:
    """Return a batch answer's body as bytes: Graph base64-encodes bodies that are not JSON."""
    body = answer.get("body")
    try:
        return base64.b64decode(body, validate=True) if isinstance(body, str) else b""
    except (binascii.Error, ValueError) as exc:
        raise ProviderError(
            Sentence(
                gettext_noop(
                    "Microsoft Graph sent a message that is not valid base64 while %(action)s."
                ),
                action=action,
            ),
            stage="protocol",
        ) from exc
