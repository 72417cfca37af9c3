"""Whether a synced message is automatic mail (an out-of-office, a delivery report), read
from its header block as cheaply as the common case allows: most mail has no sign of it."""

import re

from mailboxes.mime import autoreply, parsing
from mailboxes.providers.base import FetchedHeader


def auto_reply_reason(header: FetchedHeader) -> str:
    if not header.raw_headers:
        return autoreply.auto_reply_reason(parsing.Headers(subject=header.subject)) or ""
    # The fields auto_reply_reason reads: an encoded word in a To name says nothing of it.
    # A block with no sign anywhere has none in those fields either: most mail skips the cut.
    block = header.raw_headers
    signs = has_auto_reply_signs(block, anywhere=True)
    if signs:
        block = fields_for_auto_reply(block)
        signs = has_auto_reply_signs(block)
    if not signs:
        # Nothing in the block but From and Subject can say "machine": read those as the
        # adapter decoded them rather than parsing the block again (a fifth of an initial
        # sync's time was that parse; tests/mailboxes/test_sync_fast_paths.py checks both
        # read alike across the corpus).
        plain = parsing.Headers(
            subject=header.subject, from_addr=header.from_addr, from_name=header.from_name
        )
        return autoreply.auto_reply_reason(plain) or ""
    return autoreply.auto_reply_reason(parsing.parse_headers(block)) or ""


# What makes auto_reply_reason read more than From and Subject: its header fields, a report
# content type, or encoded words and odd bytes the two decoders might read differently.
AUTO_REPLY_SIGNS = re.compile(
    rb"(?im)^(?:auto-submitted|precedence|x-autoreply|x-autorespond|return-path|list-id|"
    rb"list-unsubscribe)[ \t]*:|report|delivery-status|=\?|[^\t\n\r\x20-\x7e]"
)
_ODD_BYTE = re.compile(rb"[^\t\n\r\x20-\x7e]")
_SIGN_FIELDS = (
    b"auto-submitted",
    b"precedence",
    b"x-autoreply",
    b"x-autorespond",
    b"return-path",
    b"list-id",
    b"list-unsubscribe",
)


def has_auto_reply_signs(block: bytes, *, anywhere: bool = False) -> bool:
    """Whether AUTO_REPLY_SIGNS is found in the block, by substring tests first: the pattern,
    tried at every position of every header block, was a tenth of writing a page.

    With `anywhere`, a sign field's name anywhere counts, at the start of a line or not: no
    such sign in a block means none in any block cut from it by `fields_for_auto_reply` (it
    drops whole lines and turns CRs into LFs, which no sign contains).
    """
    if b"=?" in block or _ODD_BYTE.search(block):
        return True
    lowered = block.lower()
    if b"report" in lowered or b"delivery-status" in lowered:
        return True
    # A field name anywhere is needed for one at the start of a line; the pattern decides.
    named = any(name in lowered for name in _SIGN_FIELDS)
    return named and (anywhere or bool(AUTO_REPLY_SIGNS.search(block)))


# Fields parse_headers reads that auto_reply_reason never looks at. Their address lists,
# dates and ids are 40% of parse_headers' time on typical mail, for every logged message.
_IGNORED_FIELD = re.compile(
    rb"(?:to|cc|reply-to|references|in-reply-to|message-id|date|x-auto-response-suppress)"
    rb"[ \t]*:",
    re.IGNORECASE,
)


def fields_for_auto_reply(raw: bytes) -> bytes:
    """The header block without the fields auto_reply_reason ignores, parsing as before.

    Whole fields go (the field line and its continuation lines), and only fields, so every
    other field, and every line parse_headers drops or stops at, reads the same. The first
    line always stays, so the mbox "From " rule sees what it saw; blocks that start with a
    BOM, or that parse_headers would truncate, are left whole.
    """
    original = bytes(raw)
    raw = parsing.normalize_newlines(original).lstrip(b"\n")
    if raw.startswith(b"\xef\xbb\xbf"):
        # parse_headers would remove this BOM from our block, not from the original.
        return original
    end = raw.find(b"\n\n")
    block = raw if end < 0 else raw[:end]
    if len(block) > parsing.MAX_HEADER_BYTES:
        return original
    lines = block.split(b"\n")
    kept = lines[:1]
    dropping = False
    for line in lines[1:]:
        if line[:1] in (b" ", b"\t"):
            if not dropping:
                kept.append(line)
        elif _IGNORED_FIELD.match(line):
            dropping = True
        else:
            dropping = False
            kept.append(line)
    return b"\n".join(kept)
