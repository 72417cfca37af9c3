"""EWS's wire: sync cursors, SyncFolderItems' changes (and its error replies without a
SyncState), items as the headers sync reads, and the recipients a send names nowhere."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from exchangelib.services import SyncFolderItems
from exchangelib.services.sync_folder_hierarchy import SyncFolder
from exchangelib.util import MNS, xml_text_to_value

from mailboxes.providers.base import FetchedHeader, OutgoingMessage
from mailboxes.providers.headers import (
    CONTROL_CHARS,
    RAW_HEADER_NAMES,
    message_ids,
    normalize_message_id,
    parse_addresses,
    split_header_fields,
)

# Cursors carry the SyncFolderItems state; the prefix leaves room for another format later.
CURSOR_PREFIX = "ews1:"


class TolerantSyncFolderItems(SyncFolderItems):
    """Run SyncFolderItems, coping with error replies that carry no SyncState.

    SyncState and IncludesLastItemInRange are optional in the schema (MS-OXWSSYNC
    3.1.4.2.3.6), but exchangelib 5.6 reads both before the ResponseCode, so an error reply
    without them would raise AttributeError instead of, say, ErrorInvalidSyncStateData.
    """

    def _get_element_container(self, message, name=None):
        self.sync_state = message.findtext(f"{{{MNS}}}SyncState")
        last = message.findtext(self.last_in_range_name)
        self.includes_last_item_in_range = xml_text_to_value(last, bool) if last else True
        # Skip SyncFolder's version, which reads the two elements unguarded.
        return super(SyncFolder, self)._get_element_container(message=message, name=name)


def sync_state_from_cursor(cursor: str) -> tuple[str | None, bool]:
    """Return (sync state or None for "from the start", whether the cursor was unusable)."""
    if not cursor:
        return None, False
    if cursor.startswith(CURSOR_PREFIX) and len(cursor) > len(CURSOR_PREFIX):
        return cursor[len(CURSOR_PREFIX) :], False
    return None, True


def split_changes(changes: list) -> tuple[list[str], tuple[str, ...]]:
    """Return (refs created or updated, refs deleted); read-flag changes are ignored."""
    refs: dict[str, None] = {}
    deleted: dict[str, None] = {}
    for change in changes:
        if isinstance(change, Exception):
            continue
        kind, item = change
        if kind in (SyncFolderItems.CREATE, SyncFolderItems.UPDATE):
            refs[item.id] = None
        elif kind == SyncFolderItems.DELETE:
            refs.pop(item.id, None)
            deleted[item.id] = None
    return list(refs), tuple(deleted)


def header_from_item(ref: str, item) -> FetchedHeader:
    """Build a FetchedHeader from an exchangelib item fetched with HEADER_FIELDS."""
    author = getattr(item, "author", None) or getattr(item, "sender", None)
    date = getattr(item, "datetime_sent", None) or getattr(item, "datetime_received", None)
    return FetchedHeader(
        ref=ref,
        message_id=normalize_message_id(getattr(item, "message_id", None)),
        in_reply_to=next(iter(message_ids(clean(getattr(item, "in_reply_to", None)))), None),
        references=tuple(message_ids(clean(getattr(item, "references", None)))),
        from_addr=smtp_address(author),
        to_addrs=smtp_addresses(getattr(item, "to_recipients", None)),
        cc_addrs=smtp_addresses(getattr(item, "cc_recipients", None)),
        subject=clean(getattr(item, "subject", None)),
        date=datetime.fromtimestamp(date.timestamp(), tz=UTC) if date else None,
        size=getattr(item, "size", None) or 0,
        flags=("\\Seen",) if getattr(item, "is_read", False) else (),
        from_name=clean(author.name) if author is not None else "",
        raw_headers=header_block(getattr(item, "headers", None)),
    )


def header_block(headers) -> bytes:
    """Rebuild "Name: value" lines from InternetMessageHeaders, keeping RAW_HEADER_NAMES.

    Exchange has none for items that never went through transport (drafts, some copies in
    Sent Items); the block is then empty and callers fall back to the parsed fields.
    """
    lines = []
    for header in headers or ():
        name = CONTROL_CHARS.sub("", header.name or "").strip()
        if name.lower() in RAW_HEADER_NAMES:
            # A line break inside a value would forge extra header lines in the block.
            value = (header.value or "").replace("\r", " ").replace("\n", " ")
            lines.append(f"{name}: {value}\r\n".encode("utf-8", "replace"))
    return b"".join(lines)


def clean(value: str | None) -> str:
    """Return text with control characters removed and whitespace collapsed."""
    return " ".join(CONTROL_CHARS.sub("", value or "").split())


def smtp_address(mailbox) -> str:
    """Return a Mailbox's SMTP address, or "" for Exchange-internal (EX) addresses."""
    address = clean(getattr(mailbox, "email_address", None))
    if getattr(mailbox, "routing_type", None) == "EX" or "@" not in address:
        return ""
    return address


def smtp_addresses(mailboxes) -> tuple[str, ...]:
    return tuple(a for a in (smtp_address(m) for m in mailboxes or ()) if a)


def hidden_recipients(message: OutgoingMessage) -> list[str]:
    """Return envelope recipients that no To, Cc or Bcc header names."""
    head = re.split(rb"\r?\n\r?\n", message.raw, maxsplit=1)[0]
    fields = split_header_fields(head)
    named = {
        address.lower()
        for name in ("to", "cc", "bcc")
        for _, address in parse_addresses(fields.get(name, []))
    }
    return [r for r in dict.fromkeys(message.recipients) if r.lower() not in named]
