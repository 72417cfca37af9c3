"""mime.outgoing: the bytes written directly for the common shape (text and HTML alternatives)
are those of Python's email package, byte for byte, over many varied emails: the corpus's odd
names, subjects and bodies, non-ASCII, headers that fold, reply chains, one-click unsubscribe."""

import random
import string
from datetime import UTC, datetime, timedelta, timezone
from email import message_from_bytes, message_from_string, policy
from email.utils import format_datetime, formataddr, make_msgid

import pytest

from mailboxes.mime import outgoing
from mailboxes.mime.outgoing import Attachment, alternative, by_email_package, email_bytes
from mailboxes.mime.parsing import parse_message
from tests.mailboxes.corpus import corpus_files

NAMES = [
    "Sam",
    "Sam Rossi",
    "O'Brien",
    "Jean-Luc Picard",
    "Dr. Who",
    'Joe "the pro" Bloggs',
    "Rossi, Mario",
    "Zoë Ångström",
    "Nicolò D'Àngelo",
    "李小龙",
    "=?utf-8?q?not_really?=",
    "a" * 90,
    "Sam  Two  Spaces",
]
SUBJECTS = [
    "Hello Client0",
    "",
    "Re: Re: Fwd: the quote you asked for",
    "Perché la fattura è sbagliata? — “urgente”",
    "A subject long enough to fold across more than one line when the header is written out",
    "x" * 77,
    "y" * 120,
    "Two  spaces and a\ttab",
    " leading and trailing ",
    "=?utf-8?q?looks_encoded?=",
    "Emoji 🎉 and ASCII",
    "100% <sure> [yes] (maybe); a:b, c@d",
]
TEXTS = [
    "Hi Client0,\n\n" + "A line of the pitch. " * 30,
    "",
    "Ciao Zoë,\r\ngrazie — a presto.\r\n",
    "--===============0000000000000000001==\nlooks like a boundary\n",
    "From the start of a line\n.a dot\nend with spaces   \n",
    "\n\n\nonly newlines\r\r",
    "x" * 500,
]
HTMLS = [
    "<p>Hi Client0,</p><p>" + "A line of the pitch. " * 30 + "</p>",
    "",
    '<div style="font-family:Arial;font-size:14px"><p>Perché “così”?</p></div>',
    '<p><a href="https://example.com/a?b=c&amp;d=e">' + "link " * 80 + "</a></p>",
]


def _corpus_values() -> tuple[list[str], list[str], list[str], list[str]]:
    names, subjects, texts, htmls = [], [], [], []
    for path in corpus_files():
        parsed = parse_message(path.read_bytes())
        names.append(parsed.headers.from_name)
        subjects.append(parsed.headers.subject)
        texts.append(parsed.text[:3000])
        htmls.append(parsed.html[:3000])
    return names, subjects, texts, htmls


def _word(rng: random.Random, size: int) -> str:
    return "".join(rng.choice(string.ascii_letters + string.digits + "-._~") for _ in range(size))


def _headers(rng: random.Random, names: list[str], subjects: list[str]) -> list:
    domain = rng.choice(["example.com", "seq-bench.example", f"{_word(rng, 30)}.example"])
    sender = f"{rng.choice(['rep', 'sam.rossi', _word(rng, 25)])}@{domain}"
    name = rng.choice(names)
    headers = [("From", formataddr((name, sender)) if name else sender)]
    recipients = [f"{_word(rng, rng.randint(1, 20))}@client.example" for _ in range(8)]
    if rng.random() < 0.1:  # a mailbox with accents: the email is written for SMTPUTF8
        recipients[rng.randrange(8)] = f"josé.garcía{rng.randint(1, 99)}@client.example"
    headers.append(("To", ", ".join(recipients[: rng.choice([1, 1, 1, 2, 5, 8])])))
    if rng.random() < 0.2:
        headers.append(("Cc", ", ".join(recipients[: rng.randint(1, 8)])))
    headers.append(("Subject", rng.choice(subjects)))
    moment = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=rng.randint(0, 10**8))
    zone = timezone(timedelta(minutes=rng.choice([0, 60, -300, 330])))
    headers.append(("Date", format_datetime(moment.astimezone(zone))))
    headers.append(("Message-ID", make_msgid(domain=domain)))
    if rng.random() < 0.5:
        chain = [make_msgid(domain=domain) for _ in range(rng.randint(1, 8))]
        headers.append(("In-Reply-To", chain[-1]))
        headers.append(("References", " ".join(chain)))
    if rng.random() < 0.7:
        base = rng.choice(["http://127.0.0.1:8000", "https://crm.example.com", "https://t.co"])
        token = f"{rng.randint(1, 10**6)}:{_word(rng, 6)}:{_word(rng, rng.randint(20, 90))}"
        headers.append(("List-Unsubscribe", f"<{base}/preferences/{token}/one-click/>"))
        headers.append(("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"))
    return headers


def _both(seed: int, headers, text: str, html: str):
    """Each builder's bytes (or exception) with the same random boundary."""
    results = []
    for build in (by_email_package, alternative):
        random.seed(seed)
        try:
            results.append(build(headers, text, html))
        except Exception as exc:  # the package's refusal must be the builder's too
            results.append(type(exc))
    return results


def test_written_directly_as_the_email_package_writes_it():
    corpus_names, corpus_subjects, corpus_texts, corpus_htmls = _corpus_values()
    assert corpus_subjects, "the corpus gives odd subjects and names"
    names, subjects = NAMES + corpus_names, SUBJECTS + corpus_subjects
    texts, htmls = TEXTS + corpus_texts, HTMLS + corpus_htmls
    rng = random.Random(14)
    for seed in range(800):
        headers = _headers(rng, names, subjects)
        text, html = rng.choice(texts), rng.choice(htmls)
        expected, written = _both(seed, headers, text, html)
        assert written == expected, (headers, text, html)


def test_every_header_shape_folds_as_the_package_folds_it():
    """Unstructured values around the fold points: one line, alone on the next, word by
    word, a word too long for any line (encoded words)."""
    rng = random.Random(10)
    alphabet = string.ascii_letters + string.digits + "<>:/.-_@=?%&;"
    for _ in range(1000):
        sizes = [rng.choice([1, 3, 8, 20, 40, 60, 70, 76, 77, 78, 79, 120]) for _ in range(9)]
        words = ["".join(rng.choice(alphabet) for _ in range(n)) for n in sizes]
        value = " ".join(words[: rng.randint(1, 9)])
        for name in ("Subject", "X-" + "N" * 40):
            assert outgoing._header(name, value) == outgoing._folded_by_package(name, value)


def test_message_ids_and_urls_are_folded_at_spaces_never_encoded():
    """A Gmail Message-ID longer than a line in In-Reply-To, a one-click URL: the package would
    write them as RFC 2047 encoded words, which breaks threading and hides the unsubscribe
    button. Both builders write them whole, folded at spaces, and they read back unchanged."""
    gmail_id = "<CAKx" + "y" * 90 + "@mail.gmail.com>"
    url = "<https://crm.example.com/preferences/" + "x" * 120 + "/one-click/>"
    headers = [
        ("From", "rep@example.com"),
        ("To", "c@example.com"),
        ("Subject", "Re: hello"),
        ("In-Reply-To", gmail_id),
        ("References", f"<a@example.com> {gmail_id} <b@example.com>"),
        ("List-Unsubscribe", url),
        ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
    ]
    expected, written = _both(4, headers, "text", "<p>html</p>")
    assert written == expected
    head = written.split(b"\r\n\r\n")[0]
    assert b"=?" not in head
    assert f"References: <a@example.com>\r\n {gmail_id}\r\n <b@example.com>".encode() in head
    parsed = message_from_string(written.decode(), policy=policy.default)
    assert parsed["In-Reply-To"] == gmail_id
    assert parsed["List-Unsubscribe"] == url
    assert parsed["References"].split() == ["<a@example.com>", gmail_id, "<b@example.com>"]
    for name in ("In-Reply-To", "List-Unsubscribe"):
        with pytest.raises(ValueError):
            outgoing._header(name, "<a@b>\r\nBcc: injected@example.com")


def test_a_sequence_email_writes_every_header_directly():
    """The shape a sequence's tick writes thousands of: no header left to the package."""
    headers = [
        ("From", formataddr(("Sam Rossi", "rep0@seq-bench.example"))),
        ("To", "c0@seq-bench.example"),
        ("Subject", "Hello Client0, a word about your order"),
        ("Date", format_datetime(datetime.now(UTC))),
        ("Message-ID", make_msgid(domain="seq-bench.example")),
        ("In-Reply-To", make_msgid(domain="seq-bench.example")),
        ("References", " ".join(make_msgid(domain="seq-bench.example") for _ in range(3))),
        ("List-Unsubscribe", "<https://crm.example.com/preferences/1:1xa6dm:uA6JAfbBhQ8sCJ7/>"),
        ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
    ]
    for name, value in headers:
        assert outgoing._plain_header(name, value) is not None, name


def test_refusals_are_the_package_s():
    for name, value in (("Subject", "line\r\nBcc: injected@example.com"), ("To", "a\nb")):
        expected, written = _both(1, [(name, value)], "text", "<p>html</p>")
        assert written is expected is ValueError


def test_attachments_go_through_the_package():
    headers = [("From", "rep@example.com"), ("To", "c@example.com"), ("Subject", "Files")]
    files = [
        Attachment("logo.png", "image/png", b"\x89PNG...", content_id="logo@crm"),
        Attachment("offerta è.pdf", "", b"%PDF-1.4"),
    ]
    random.seed(3)
    built = email_bytes(headers, "see the files", "<p>see <img src='cid:logo@crm'></p>", files)
    random.seed(3)
    assert built == by_email_package(
        headers, "see the files", "<p>see <img src='cid:logo@crm'></p>", files
    )
    parsed = message_from_bytes(built, policy=policy.default)
    assert [p.get_filename() for p in parsed.iter_attachments()] == ["offerta è.pdf"]


@pytest.mark.parametrize("text,html", [("plain", "<p>html</p>"), ("Zoë", "<p>Zoë</p>")])
def test_the_direct_bytes_read_back(text, html):
    headers = [("From", "Zoë <rep@example.com>"), ("To", "c@example.com"), ("Subject", "Ciao")]
    parsed = message_from_bytes(email_bytes(headers, text, html), policy=policy.default)
    assert parsed["From"] == "Zoë <rep@example.com>"
    assert parsed.get_body(("plain",)).get_content().rstrip() == text
    assert parsed.get_body(("html",)).get_content().rstrip() == html


def test_an_address_with_accents_is_written_in_utf8_never_as_encoded_words():
    headers = [
        ("From", "Sam Seller <sam@crm-demo.example>"),
        ("To", "karin.garcía12@mistralwines.example, ola@client.example"),
        ("Subject", "Perché no?"),
        ("Message-ID", "<q-1@crm-demo.example>"),
    ]
    expected, written = _both(3, headers, "Ciao", "<p>Ciao</p>")
    assert written == expected
    assert "To: karin.garcía12@mistralwines.example, ola@client.example\r\n" in written.decode()
    assert b"=?" not in written.split(b"\r\n\r\n")[0]  # RFC 6532: headers in UTF-8
    parsed = message_from_string(written.decode(), policy=policy.default)
    assert [a.addr_spec for a in parsed["To"].addresses][0] == "karin.garcía12@mistralwines.example"
    # Accents in a name alone keep the email ASCII, the name as encoded words.
    named = [("From", "Zoë Ricci <zoe@crm-demo.example>"), ("To", "ola@client.example")]
    expected, written = _both(4, named, "Ciao", "<p>Ciao</p>")
    assert written == expected and written.isascii()
    assert b"From: =?utf-8?q?Zo=C3=AB?= Ricci <zoe@crm-demo.example>" in written
