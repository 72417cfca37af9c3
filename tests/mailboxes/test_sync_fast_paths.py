"""The fast paths of IMAP sync give exactly what the general code they stand in for gives.

- `imap_replies.addresses` (common address shapes) against `headers.parse_addresses`;
- `imap_replies.parse_fetch_fast` (plain FETCH replies) against imapclient's parser;
- `sync.fields_for_auto_reply` (a header block without the fields auto_reply_reason ignores)
  against the whole block, through `parse_headers` and `auto_reply_reason`;
- `sync.auto_reply_reason` on a header block with no sign of automatic mail but From and
  Subject (which it reads as the adapter decoded them) against the whole block parsed;
- `imap_replies.header_from_fetch` (sync's header-only path) against `parse_headers` for the
  threading fields, on the whole corpus: a bounce or reply matches its email by them;
- `sync.has_auto_reply_signs` (substring tests first) against AUTO_REPLY_SIGNS, and its
  `anywhere` form (no sign in a block: none once it is cut for auto_reply_reason);
- `headers.parse_date` (plain dates read without the email package) against
  `email.utils.parsedate_to_datetime`, and `headers.split_header_fields` (bytes.splitlines
  and known field names) against the regular-expression split it replaced.
"""

import email.utils
import random
import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from imapclient.response_parser import parse_fetch_response

from mailboxes.mime.autoreply import auto_reply_reason
from mailboxes.mime.parsing import normalize_newlines, parse_headers
from mailboxes.providers.headers import (
    decode_text,
    parse_addresses,
    parse_date,
    split_header_fields,
)
from mailboxes.providers.imap_replies import (
    HEADER_FIELDS,
    addresses,
    header_from_fetch,
    internal_date,
    parse_fetch_fast,
    sequence_set,
)
from mailboxes.sync.auto_replies import (
    AUTO_REPLY_SIGNS,
    fields_for_auto_reply,
    has_auto_reply_signs,
)
from mailboxes.sync.auto_replies import auto_reply_reason as sync_auto_reply_reason

from .corpus import corpus_files

ADDRESS_FIELDS = [
    "Anna Adler <anna@client.example>",
    '"Adler, Anna" <anna@client.example>',
    "=?UTF-8?B?SsO8cmdlbg==?= <j@client.example>, bob@client.example",
    "<anna@client.example>",
    "anna@client.example ,  Bob  Brown<BOB@Client.Example>",
    '"" <anna@client.example>',
    '" Jürgen  " <j@client.example>',
    "Jürgen <j@client.example>",
    "John Q. Public <john@client.example>",
    "anna@client.example (Anna)",
    "Anna < anna@client.example >",
    "undisclosed-recipients:;",
    "Team: anna@client.example, bob@client.example;",
    "a@b@client.example",
    "anna@client.example,",
    "anna.@client.example",
    "anna@[192.0.2.1]",
    '"quoted local"@client.example',
    "MAILER-DAEMON <>",
    "",
    "no address at all",
]


@pytest.mark.parametrize("value", ADDRESS_FIELDS)
def test_address_fast_path_reads_like_parse_addresses(value):
    for values in ([value.encode()], [value.encode("latin-1", "replace")], [value.encode()] * 2):
        assert addresses(values) == parse_addresses(values)


def test_address_fast_path_reads_like_parse_addresses_on_generated_fields():
    rng = random.Random(20261122)
    atext = "abcXYZ019!#$%&'*+/=?^_`{|}~-"

    def atom():
        return "".join(rng.choice(atext) for _ in range(rng.randint(1, 6)))

    def mailbox():
        address = ".".join(atom() for _ in range(rng.randint(1, 3))) + "@" + atom() + ".example"
        if rng.random() < 0.1:
            address = rng.choice([address + ".", "." + address, address + "@x", "a b@c"])
        name = rng.choice(
            [
                "",
                " ".join(atom() for _ in range(rng.randint(1, 3))),
                '"' + "".join(rng.choice('ab ,<>@();:.ü\t"') for _ in range(rng.randint(0, 6))),
                "=?utf-8?q?J=C3=BCrgen?= M",
                "Ann (c)",
                "Anna\u00a0B",
            ]
        )
        space = rng.choice(["", " ", "\t", "  "])
        if rng.random() < 0.6:
            return f"{space}{name}{space}<{address}>{space}"
        return f"{space}{address}{space}"

    for _ in range(5_000):
        value = rng.choice([",", ", ", " ,"]).join(mailbox() for _ in range(rng.randint(1, 3)))
        assert addresses([value.encode()]) == parse_addresses([value.encode()]), value


HEADER_ITEM = b"BODY[HEADER.FIELDS (MESSAGE-ID FROM)]"
BLOCK = b"From: anna@client.example\r\nMessage-ID: <1@x>\r\n\r\n"


def reply(seq, atoms, literal=BLOCK, tail=b")", item=HEADER_ITEM):
    """One FETCH reply as imaplib returns it: (head with the literal's size, literal), tail."""
    return [(b"%d (%s%s {%d}" % (seq, atoms, item, len(literal)), literal), tail]


PLAIN_REPLIES = [
    reply(1, b'UID 7 FLAGS () RFC822.SIZE 2048 INTERNALDATE "22-Nov-2026 17:22:50 +0100" '),
    # Dovecot's answer to sync's header FETCH, read in one match.
    reply(
        2, b'UID 8 FLAGS (\\Seen \\Recent) RFC822.SIZE 1 INTERNALDATE "1-Jan-2026 00:00:00 -0000" '
    )
    + reply(3, b'UID 9 FLAGS () RFC822.SIZE 9 INTERNALDATE "01-Jan-2026 00:00:00 +0000" ', b""),
    reply(2, b"UID 8 FLAGS (\\Seen $Forwarded Junk) RFC822.SIZE 10 ")
    + reply(3, b"UID 9 FLAGS (\\Answered) ", b""),
    # Items after the literal, as Gmail sends them.
    reply(4, b"", tail=b' UID 10 FLAGS (\\Seen) INTERNALDATE "01-Jan-2026 00:00:00 +0000")'),
    reply(5, b"UID 11 MODSEQ (12345) ", item=b"BODY[]"),
    reply(6, b"uid 12 flags () rfc822.size 1 ", item=b"body[header.fields (FROM)]"),
    [None],
]


@pytest.mark.parametrize("data", PLAIN_REPLIES)
def test_fetch_fast_path_reads_like_imapclient(data):
    fast = parse_fetch_fast(data)
    assert fast is not None
    slow = parse_fetch_response(data, False, True)
    for message in fast.values():
        if b"INTERNALDATE" in message:
            message[b"INTERNALDATE"] = internal_date(message[b"INTERNALDATE"])
    assert fast == dict(slow)


ODD_REPLIES = [
    # An unsolicited flag change, without literal, among the answers.
    reply(1, b"UID 7 FLAGS () ") + [b"5 (FLAGS (\\Deleted) UID 20)"],
    reply(1, b"UID 7 FLAGS (NIL) "),  # imapclient reads NIL as None
    reply(1, b"UID 7 FLAGS (1234) "),  # and digits as an int
    reply(1, b"FLAGS () "),  # no UID: imapclient keys it by sequence number
    reply(1, b"UID 7 X-GM-LABELS (\\Inbox) "),  # an item the fast path does not know
    [(b"1 (UID 7 BODY[1] {1}", b"a"), (b" BODY[2] {1}", b"b"), b")"],  # two literals
    [(b"1 (UID 7 BODY[] {1}", b"a")],  # cut short
]


@pytest.mark.parametrize("data", ODD_REPLIES)
def test_fetch_fast_path_leaves_other_shapes_to_imapclient(data):
    assert parse_fetch_fast(data) is None


def test_internal_date_as_imapclient_gives_it():
    assert internal_date(b"22-Nov-2026 17:22:50 +0100") == datetime(
        2026, 11, 22, 17, 22, 50, tzinfo=timezone(timedelta(hours=1))
    )
    assert internal_date(b"not a date") is None
    stamp = datetime(2026, 1, 1, tzinfo=UTC)
    assert internal_date(stamp) is stamp
    assert internal_date(None) is None


def test_sequence_set_writes_runs_as_ranges():
    assert sequence_set([1, 2, 3, 5, 7, 8, 10]) == "1:3,5,7:8,10"
    assert sequence_set([4]) == "4"
    assert sequence_set([]) == ""


AUTO_REPLY_ATTRIBUTES = (
    "content_type report_type from_addr from_name subject auto_submitted x_autoreply "
    "x_autorespond precedence list_id list_unsubscribe return_path"
).split()


def auto_reply_view(raw: bytes):
    headers = parse_headers(raw)
    return [getattr(headers, name) for name in AUTO_REPLY_ATTRIBUTES], auto_reply_reason(headers)


HEADER_BLOCKS = [
    b"To: a@b\r\n b@c\r\nFrom: MAILER-DAEMON <>\r\nSubject: Undeliverable\r\n\r\nbody",
    b"Date: x\nAuto-Submitted: auto-replied\n",
    b"\n\n\xef\xbb\xbfTo: a@b\nFrom: Anna <a@b.example>\nSubject: Out of office",
    b"\xef\xbb\xbf\xef\xbb\xbfTo: a@b\nPrecedence: bulk",
    b"From abc\nTo: x@y\nSubject: Automatic reply: hi",
    b"Cc: c@d\njunk line\n continued\nList-Id: <l.example>\nReturn-Path: <>",
    b"Subject: hi\rTO : x@y\r more\rContent-Type: multipart/report;\r report-type=delivery-status",
    b" leading continuation\nReferences: <a@b>\nX-Autoreply: yes",
    b"Message-ID: <x@y>\nsubject: =?utf-8?b?QXV0b21hdGljIHJlcGx5?=\nIn-Reply-To: <a@b>",
    b"Reply-To: r@s\nX-Auto-Response-Suppress: All\nFrom: Mail Delivery System <x@y>",
    b"Subject: " + b"x" * 300_000 + b"\nTo: a@b",
]


@pytest.mark.parametrize("raw", HEADER_BLOCKS)
def test_auto_reply_reads_the_same_without_the_fields_it_ignores(raw):
    assert auto_reply_view(fields_for_auto_reply(raw)) == auto_reply_view(raw)


def test_auto_reply_reads_the_same_without_the_fields_it_ignores_on_the_corpus():
    for path in corpus_files():
        raw = path.read_bytes()
        assert auto_reply_view(fields_for_auto_reply(raw)) == auto_reply_view(raw), path


FROM_AND_SUBJECT = [
    b"From: MAILER-DAEMON@mx.example\nSubject: Undeliverable: hi\n",
    b'From: "Mail Delivery System" <x@y.example>\nSubject: hi\n',
    b"From: Postmaster <postmaster@y.example>\nSubject: Delivery Status Notification\n",
    b"From: no-reply@shop.example\nSubject: Returned mail: see transcript\n",
    b"From: Ana <ana@x.example>\nSubject: Automatic reply: Our proposal\n",
    b"From: Ana <ana@x.example>\nSubject: Re: our out of office policy\n",
    b"From: Ana <ana@x.example>\nSubject:\n  Out of Office:\n folded\n",
    b"From: Bob <bob@x.example>\nSubject: Ana Lopez is out of the office\n",
    b"From: Bob <bob@x.example>\nSubject: Quote\nContent-Type: text/plain\n",
]


@pytest.mark.parametrize("block", FROM_AND_SUBJECT)
def test_sync_reads_automatic_mail_alike_from_from_and_subject(block):
    fast = header_from_fetch(1, {b"BODY[HEADER]": block})
    assert sync_auto_reply_reason(fast) == (auto_reply_reason(parse_headers(block)) or "")


def fetched_fields(block: bytes) -> bytes:
    """The fields of `block` IMAP sync asks for (HEADER.FIELDS), as the server sends them."""
    wanted = {name.lower().encode() for name in HEADER_FIELDS.split()}
    kept, keeping = [], False
    for line in block.split(b"\n"):
        if line[:1] in (b" ", b"\t"):
            if keeping:
                kept.append(line)
            continue
        keeping = line.split(b":", 1)[0].strip().lower() in wanted
        if keeping:
            kept.append(line)
    return b"\n".join(kept) + b"\n"


def test_sync_reads_automatic_mail_alike_on_both_paths_across_the_corpus():
    fast_ones = 0
    for path in corpus_files():
        raw = path.read_bytes()
        whole = normalize_newlines(raw).split(b"\n\n", 1)[0]
        for block in (whole, fetched_fields(whole)):
            fast = header_from_fetch(1, {b"BODY[HEADER]": block})
            full = auto_reply_reason(parse_headers(block + b"\n")) or ""
            assert sync_auto_reply_reason(fast) == full, path.name
            fast_ones += not AUTO_REPLY_SIGNS.search(block)
    assert fast_ones > 100  # the fast path is what most of the corpus takes


def test_threading_fields_read_alike_on_both_paths_across_the_corpus():
    files = corpus_files()
    assert files
    for path in files:
        raw = path.read_bytes()
        # What an IMAP server answers for BODY[HEADER]: the block before the first blank line.
        block = normalize_newlines(raw).split(b"\n\n", 1)[0]
        fast = header_from_fetch(1, {b"BODY[HEADER]": block})
        full = parse_headers(raw)
        assert (fast.message_id, fast.in_reply_to, fast.references) == (
            full.message_id,
            full.in_reply_to,
            full.references,
        ), path.name


@pytest.mark.parametrize(
    "field",
    [
        b"Message-ID: 12223",  # no brackets, no @
        b"Message-ID: <folded.id\n @host.example>",
        b"Message-ID: <nul\x00@host.example>",
        b"Message-ID: abc@host.example",
    ],
)
def test_odd_message_ids_read_alike_on_both_paths(field):
    block = b"From: a@b.example\n" + field + b"\nSubject: x\n"
    assert header_from_fetch(1, {b"BODY[HEADER]": block}).message_id == (
        parse_headers(block + b"\n").message_id
    )


def corpus_blocks():
    """Every corpus message's header block, whole and as IMAP sync fetches it."""
    for path in corpus_files():
        whole = normalize_newlines(path.read_bytes()).split(b"\n\n", 1)[0]
        yield path.name, whole
        yield path.name, fetched_fields(whole)
        yield path.name, fields_for_auto_reply(whole)


SIGN_BLOCKS = [
    b"X-Precedence: bulk\nSubject: hi",  # a sign's name, not at the start of a line
    b"Subject: hi\nprecedence : bulk",
    b"Subject: Weekly REPORT",
    b"Subject: a\x7fb",
    b"Subject: a\x0bb",
    b"Subject: tab\there",
    b"Subject: =?",
    b"Subject: caf\xc3\xa9",
    b"List-Idle: x",
    b"",
]


def test_auto_reply_signs_are_found_as_the_pattern_finds_them():
    blocks = [*SIGN_BLOCKS, *HEADER_BLOCKS, *FROM_AND_SUBJECT]
    blocks += [block for _, block in corpus_blocks()]
    for block in blocks:
        assert has_auto_reply_signs(block) == bool(AUTO_REPLY_SIGNS.search(block)), block[:200]


def test_a_block_without_signs_anywhere_has_none_once_cut_for_auto_reply():
    """What lets sync's auto_reply_reason skip fields_for_auto_reply on most mail."""
    blocks = [*SIGN_BLOCKS, *HEADER_BLOCKS, *FROM_AND_SUBJECT, b"Subject: a\rprecedence: bulk"]
    blocks += [block for _, block in corpus_blocks()]
    skipped = 0
    for block in blocks:
        if not has_auto_reply_signs(block, anywhere=True):
            skipped += 1
            assert not has_auto_reply_signs(fields_for_auto_reply(block)), block[:200]
        # Anywhere finds all the pattern finds, and more.
        assert has_auto_reply_signs(block, anywhere=True) >= has_auto_reply_signs(block)
    assert skipped > 100


def reference_date(values: list[bytes]) -> datetime | None:
    """parse_date as it read every Date before its fast path: through the email package."""
    try:
        parsed = email.utils.parsedate_to_datetime(decode_text(values[0]).strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


DATES = [
    "Sat, 24 Jan 2026 09:10:08 +0000",
    "Sat, 24 Jan 2026 09:10:08 -0000",
    "Sat, 24 Jan 2026 09:10:08 +0530",
    "Sat, 24 Jan 2026 09:10:08 -0745",
    "Mon, 5 Jan 2026 23:59:59 +0100",
    "24 Jan 2026 09:10:08 +0000",
    "Sat, 31 Feb 2026 09:10:08 +0000",
    "Sat, 24 Jan 0099 09:10:08 +0000",
    "Sat, 24 Jan 2026 24:10:08 +0000",
    "Sat, 24 Jan 2026 09:10:60 +0000",
    "Sat, 24 Jan 2026 09:10:08 +2400",
    "Sat, 24 Jan 2026 09:10:08 +0099",
    "Sat, 24 jan 2026 09:10:08 +0000",
    "Sat, 24 Jan 2026 09:10 +0000",
    "Sat, 24 Jan 26 09:10:08 +0000",
    "Sat, 24 Jan 2026 09:10:08 GMT",
    "Sat, 24 Jan 2026 09:10:08 +0000 (UTC)",
    "  Sat, 24 Jan 2026 09:10:08 +0000  ",
    "Sat,24 Jan 2026 09:10:08 +0000",
    "Sat, 24 Jan 2026 09:10:08 +0000\x00",
    "Sat, \u0662\u0664 Jan 2026 09:10:08 +0000",
    "",
]


def test_dates_read_as_the_email_package_reads_them():
    rng = random.Random(20261206)
    values = [d.encode() for d in DATES]
    for _ in range(3_000):
        stamp = datetime(2000, 1, 1) + timedelta(seconds=rng.randrange(40 * 365 * 86400))
        zone = f"{rng.choice('+-')}{rng.randrange(15):02d}{rng.choice([0, 30, 45, 59]):02d}"
        day = stamp.strftime(rng.choice(["%a, %d", "%d", "%a, %-d"]))
        values.append(f"{day} {stamp:%b %Y %H:%M:%S} {zone}".encode())
    for _, block in corpus_blocks():
        values += split_header_fields(block).get("date", [])[:1]
    for value in values:
        fast, slow = parse_date([value], None), reference_date([value])
        assert fast == slow and (fast is None or fast.utcoffset() == slow.utcoffset()), value


def reference_fields(block: bytes) -> dict[str, list[bytes]]:
    """split_header_fields as it was before bytes.splitlines and the known field names."""
    fields: dict[str, list[bytes]] = {}
    current = None
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


def test_header_fields_split_as_before():
    blocks = [*HEADER_BLOCKS, *FROM_AND_SUBJECT, b"", b"\r\n", b"Message-Id: <a>\x0bx\x1c\n"]
    blocks += [b"From : a\r\nFROM: b\rFrom\t: c\n\tfolded\nSubject:x\x85y\n: empty name"]
    for _, block in corpus_blocks():
        blocks += [block, block.replace(b"\n", b"\r\n"), block.replace(b"\n", b"\r")]
    for block in blocks:
        assert split_header_fields(block) == reference_fields(block), block[:200]
