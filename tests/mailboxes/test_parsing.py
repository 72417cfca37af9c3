"""Defensive MIME parsing: the awkward corpus files, one behaviour each, and a light fuzz."""

import random
import time
from datetime import UTC, datetime, timedelta

import pytest

from mailboxes.mime.parsing import (
    decode_bytes,
    decode_header_value,
    header_params,
    normalize_message_id,
    parse_headers,
    parse_message,
)

from .corpus import CORPUS, corpus_files


def corpus(name: str) -> bytes:
    return (CORPUS / name).read_bytes()


def test_headers_give_sync_what_it_decides_on():
    headers = parse_headers(
        b"From: =?utf-8?q?Ren=C3=A9e?= <Renee@Example.COM>\r\n"
        b'To: a@example.com, "B, Bee" <B@example.com>, undisclosed-recipients:;\r\n'
        b"Cc: a@example.com\r\n"
        b"Reply-To: <Sales@Example.com>\r\n"
        b"Subject: =?utf-8?B?w4lj?=\r\n =?utf-8?B?aGFuZ2U=?= done\r\n"
        b"Date: Tue, 1 Jul 2025 10:00:00 +0200\r\n"
        b"Message-ID:\r\n <abc@host>\r\n"
        b"In-Reply-To: <parent@host> (from Bob)\r\n"
        b"References: <root@host>\r\n\t<parent@host>\r\n"
        b"Auto-Submitted: auto-replied\r\n"
        b"\r\n"
        b"body is not read",
    )
    assert headers.from_addr == "renee@example.com" and headers.from_name == "Renée"
    assert headers.to == ("a@example.com", "b@example.com")
    assert headers.cc == ("a@example.com",) and headers.reply_to == ("sales@example.com",)
    assert headers.subject == "Échange done"
    assert headers.date == datetime(2025, 7, 1, 8, 0, tzinfo=UTC)
    assert headers.date.utcoffset() == timedelta(hours=2)
    assert headers.message_id == "<abc@host>"
    assert headers.in_reply_to == "<parent@host>"
    assert headers.references == ("<root@host>", "<parent@host>")
    assert headers.auto_submitted == "auto-replied"


@pytest.mark.parametrize(
    "value, expected",
    [
        ("<a@b>", "<a@b>"),
        ("  <a@b>  ", "<a@b>"),
        ("<a@\n b>", "<a@b>"),
        ("a@b", "<a@b>"),
        ("12223", "<12223>"),  # a lone token is still the message's identity
        ("<nul\x00@b>", "<nul@b>"),  # PostgreSQL text refuses NUL
        ("two tokens", None),
        ("", None),
        ("   ", None),
        ("<>", None),
        (None, None),
    ],
)
def test_message_id_normalisation(value, expected):
    assert normalize_message_id(value) == expected


def test_dates_that_cannot_be_are_none():
    assert parse_headers(b"Date: Fri, 21 Nov 1997 27:39:33 -0600\n\n").date is None
    assert parse_headers(b"Date: sometime last week\n\n").date is None
    naive = parse_headers(b"Date: Fri, 21 Nov 1997 09:55:06 -0000\n\n").date
    assert naive == datetime(1997, 11, 21, 9, 55, 6, tzinfo=UTC)


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("=?INVALID?Q?=A1Hola,_se=F1or!?=", "¡Hola, señor!"),  # unknown label: cp1252 guess
        ("=?utf-7?Q?Andreas=20M+APw-zner?=", "Andreas Müzner"),
        ("=?ks_c_5601-1987?B?vbrGvMfY?=", "스티해"),
        ("=?ISO-2022-JP?B?GyRCJUYlOSVIGyhC?=", "テスト"),
        ("=?utf-8?B?4pyU?= =?utf-8?B?IG9r?=", "✔ ok"),
        ("=?utf-8?B?8J+Y?= =?utf-8?B?gA==?=", "😀"),  # a character split across words
        ("=?utf-8?Q?broken", "=?utf-8?Q?broken"),
        ("=?utf-8?B?!!!?=", ""),
        ("plain \udce9t\udce9", "plain été"),  # raw Latin-1 bytes, surrogate-escaped
    ],
)
def test_encoded_words_decode_without_raising(raw, expected):
    assert decode_header_value(raw) == expected


def test_charset_fallbacks():
    assert decode_bytes("café".encode("cp1252"), "x-unknown") == ("café", True)
    assert decode_bytes("café".encode(), "us-ascii") == ("café", False)
    assert decode_bytes("日本".encode("euc_jp"), "iso-2022-jp") == ("日本", True)
    assert decode_bytes(b"\xff\xfe", "utf-8")[1] is True
    assert decode_bytes(b"x", "base64") == ("x", False)  # a codec, but not a charset


def test_rfc2231_parameters_are_joined_and_decoded():
    params = header_params(
        "attachment; filename*0*=utf-8''%E3%81%8B%E3%81%8D; filename*1*=%E3%81%8F.txt; size=3"
    )
    assert params == {"filename": "かきく.txt", "size": "3"}


@pytest.mark.parametrize(
    "name, subject",
    [
        ("encodings/mmp__m0006.eml", "Die Hasen und die Frösche (Microsoft Outlook 00)"),
        (
            "encodings/mimekit__messages_japanese.eml",
            "日本語メールテスト (testing Japanese emails)",
        ),
        ("encodings/rubymail__plain_emails_raw_email.eml", "NOTE: 한국말로 하는 것"),
        ("encodings/rubymail__rfc6532_utf8_headers.eml", "Säying Hello"),
        ("encodings/mmp__m2004.eml", "Die Hasen und die Frösche"),  # raw 8-bit inside a word
        ("encodings/mmp__m2015.eml", "Die Hasen und die Frösche"),  # raw Latin-1 Subject
        ("encodings/mailparser-py__mail_test_1.eml", "письмо уведом-е"),
    ],
)
def test_corpus_subjects_decode(name, subject):
    assert parse_headers(corpus(name)).subject == subject


def test_body_charsets_from_the_corpus():
    korean = parse_message(corpus("encodings/rubymail__multi_charset_ks_c_5601-1987.eml"))
    assert korean.text.strip() == "스티해"
    japanese = parse_message(corpus("encodings/rubymail__multi_charset_japanese_iso_2022.eml"))
    assert "まみむめも" in japanese.text or japanese.text.strip()
    sjis = parse_message(corpus("encodings/rubymail__multi_charset_japanese_shift_jis.eml"))
    assert "あいうえお" in sjis.text


@pytest.mark.parametrize(
    "name, filename",
    [
        ("encodings/rubymail__multi_charset_japanese_attachment.eml", "てすと.txt"),
        ("encodings/rubymail__attachment_emails_attachment_nonascii_filename.eml", "ciële.txt"),
        ("encodings/rubymail__attachment_emails_attachment_with_quoted_filename.eml",
         "Eelanalüüsi päring.jpg"),
        ("encodings/mailparser-py__mail_test_1.eml", "ФНС_РФ558.zip"),
        ("wellformed/mailparser-js__nodemailer.eml", "nyan cat ✔.gif"),
        ("wellformed/mmp__m4004.eml", "nsmailEG.png"),  # Netscape sent C:\TEMP\nsmailEG.png
    ],
)  # fmt: skip
def test_attachment_filenames_decode(name, filename):
    names = [a.filename for a in parse_message(corpus(name)).attachments]
    assert filename in names


def test_long_rfc2231_filename():
    (attachment,) = parse_message(
        corpus("encodings/rubymail__multi_charset_japanese_attachment_long_name.eml")
    ).attachments
    assert attachment.filename == "かきくけこ" * 5 + ".txt"


def test_inline_images_carry_the_content_id_their_html_refers_to():
    parsed = parse_message(corpus("wellformed/mmp__m0016.eml"))
    for image in parsed.attachments:
        assert image.is_inline and f'src="cid:{image.content_id}"' in parsed.html


def test_line_ending_twins_parse_the_same():
    crlf = parse_message(corpus("wellformed/rubymail__plain_emails_basic_email.eml"))
    lf = parse_message(corpus("line_endings/rubymail__plain_emails_basic_email_lf.eml"))
    assert crlf.headers == lf.headers and crlf.text == lf.text
    pdf = parse_message(corpus("wellformed/rubymail__attachment_emails_attachment_pdf.eml"))
    pdf_lf = parse_message(corpus("line_endings/rubymail__attachment_emails_attachment_pdf_lf.eml"))
    assert pdf.attachments == pdf_lf.attachments


def test_cr_only_message_is_read():
    headers = parse_headers(corpus("line_endings/sisimai__mac_lhost-qmail-01.eml"))
    assert headers.subject == "failure notice" and headers.from_addr


def test_binary_outlook_msg_is_flagged_not_dropped():
    parsed = parse_message(corpus("malformed/mailparser-py__mail_outlook_1.eml"))
    assert parsed.malformed and parsed.defects
    assert parse_headers(corpus("malformed/mailparser-py__mail_outlook_1.eml")).message_id is None


def test_message_without_blank_line_keeps_its_body():
    parsed = parse_message(corpus("malformed/cpython__msg_35.eml"))
    assert parsed.headers.subject == "here's something interesting"
    assert "no separating newline" in parsed.text and not parsed.malformed


def test_junk_header_line_does_not_hide_the_rest():
    parsed = parse_message(
        corpus("malformed/rubymail__plain_emails_raw_email_incorrect_header.eml")
    )
    assert parsed.headers.message_id == "<4D6AA7EB.6490534@xxx.xxx>"
    assert parsed.text.startswith("You are infected") and "invalid header line" in parsed.defects


def test_truncated_base64_keeps_what_decodes():
    parsed = parse_message(corpus("malformed/mailparser-js__decoderended.eml"))
    assert "forwarded message attached" in parsed.text
    assert [a.content_type for a in parsed.attachments] == ["message/rfc822"]


def test_header_bomb_is_capped_and_quick():
    raw = corpus("malformed/mimekit__messages_stack-overflow.eml")
    # CPU time, not wall time: other processes on a busy machine do not count against it.
    started = time.process_time()
    parsed = parse_message(raw)
    assert time.process_time() - started < 1
    assert parsed.headers.to == ("test@test.com",)
    assert "header to truncated" in parsed.defects


def test_threading_headers_from_the_corpus():
    headers = parse_headers(corpus("threading/cpython__msg_48.eml"))
    assert headers.in_reply_to == (
        "<somelonglonglonglonglongunwrappablemessageidtoreplyto@mail.foo.bar>"
    )
    headers = parse_headers(
        corpus("malformed/rubymail__error_emails_multiple_references_with_one_invalid.eml")
    )
    assert headers.references[:2] == ("<foo@bar.net>", "<baz@bar.net>")
    assert (
        parse_headers(corpus("malformed/rubymail__error_emails_empty_in_reply_to.eml")).in_reply_to
        is None
    )


def _fuzz_inputs():
    rng = random.Random(20260622)  # fixed seed: a failure must be reproducible
    samples = [path.read_bytes() for path in corpus_files()[::9]]
    yield b""
    yield b"\x00" * 100
    yield bytes(rng.randrange(256) for _ in range(4096))
    for sample in samples:
        cut = rng.randrange(len(sample) + 1)
        yield sample[:cut]
        mutated = bytearray(sample)
        for _ in range(20):
            if mutated:
                mutated[rng.randrange(len(mutated))] = rng.randrange(256)
        yield bytes(mutated)
        yield sample.replace(b"\n", b"\r", rng.randrange(1, 50))
        yield sample[: len(sample) // 2] + b"\n--" + sample[len(sample) // 2 :]


def test_fuzzed_and_truncated_input_never_raises():
    for raw in _fuzz_inputs():
        parse_headers(raw)
        parsed = parse_message(raw)
        assert parsed.malformed or isinstance(parsed.text, str)
