"""Bounce parsing against the corpus manifest's expectations, recipient by recipient."""

import pytest

from mailboxes.bounces.reports import Bounce, Feedback, classify, parse_bounce

from .corpus import CORPUS, bounce_expectations

EXPECTATIONS = bounce_expectations()

# Files where this parser and sisimai disagree, with the reason. The test fails if one of them
# starts agreeing (remove it here) or if any other file disagrees.
KNOWN_DIFFERENCES = {
    "bounces/sisimai__bsd_lhost-fml-03.eml": (
        "an FML mailing-list 'Loop Alert: Duplicated Message-ID' notice from the list owner "
        "address; nothing in it says a delivery failed, and reading list-manager notices as "
        "bounces would suppress list members. sisimai's FML module calls it a soft "
        "systemerror; we say not a bounce (None), which is soft in effect"
    ),
}


def outcome(result) -> object:
    if isinstance(result, Bounce):
        return ["hard" if recipient.hard else "soft" for recipient in result.recipients]
    return type(result).__name__ if result is not None else None


def expected_outcome(expectation) -> object:
    if expectation.kind == "sisimai":
        return ["hard" if hard else "soft" for hard in expectation.hard]
    if expectation.what.startswith("ARF feedback"):
        return "Feedback"
    return None  # auto-reply, delivered, read receipt, plain mail


def test_manifest_lists_every_bounce_file():
    assert sum(key.startswith("bounces/") for key in EXPECTATIONS) == 108
    assert sum(e.kind == "sisimai" for e in EXPECTATIONS.values()) == 92


def test_hard_and_soft_agree_with_sisimai_recipient_by_recipient():
    compared, disagreements = 0, {}
    for key, expectation in EXPECTATIONS.items():
        if expectation.kind not in ("sisimai", "not-a-bounce"):
            continue
        compared += 1
        got = outcome(parse_bounce((CORPUS / key).read_bytes()))
        if got != expected_outcome(expectation):
            disagreements[key] = (expected_outcome(expectation), got)
    assert set(disagreements) == set(KNOWN_DIFFERENCES), disagreements
    assert compared == 104  # 92 sisimai results and 12 negative controls


@pytest.mark.parametrize(
    "key",
    [key for key, e in EXPECTATIONS.items() if e.kind == "report"],
)
def test_dsn_fields_are_read_as_the_manifest_copies_them(key):
    expectation = EXPECTATIONS[key]
    result = parse_bounce((CORPUS / key).read_bytes())
    assert isinstance(result, Bounce) and result.recipients
    first = result.recipients[0]
    assert first.action == (expectation.action or first.action)
    assert first.status == expectation.status
    assert first.hard is (first.reason in ("userunknown", "hostunknown", "hasmoved"))
    assert result.standard


@pytest.mark.parametrize(
    "key, feedback_type",
    [
        ("bounces/sisimai__bsd_arf-11.eml", "abuse"),
        ("bounces/sisimai__bsd_arf-12.eml", "opt-out"),
        ("line_endings/sisimai__dos_arf-01.eml", "abuse"),
        ("bounces/mimekit__messages_feedback-report.eml", "abuse"),
    ],
)
def test_arf_reports_are_feedback_with_their_type(key, feedback_type):
    assert EXPECTATIONS[key].what.startswith("ARF feedback")
    result = parse_bounce((CORPUS / key).read_bytes())
    assert isinstance(result, Feedback) and result.feedback_type == feedback_type


def test_clean_arf_report_carries_what_suppression_needs():
    # mimekit's sample starts with a UTF-8 BOM before the first header.
    result = parse_bounce((CORPUS / "bounces/mimekit__messages_feedback-report.eml").read_bytes())
    assert result.user_agent and result.source_ip
    assert result.recipients and all("@" in address for address in result.recipients)
    assert result.original_message_id and result.original_message_id.startswith("<")


def test_base64_delivery_status_is_decoded_and_original_id_found():
    result = parse_bounce((CORPUS / "bounces/mimekit__messages_bounce.eml").read_bytes())
    (recipient,) = result.recipients
    assert (recipient.action, recipient.status, recipient.hard) == ("failed", "5.1.1", True)
    assert "User unknown" in recipient.diagnostic
    assert result.original_message_id and result.reporting_mta


def test_original_message_id_comes_from_x_original_message_id_first():
    result = parse_bounce((CORPUS / "bounces/sisimai__bsd_lhost-gsuite-03.eml").read_bytes())
    raw = (CORPUS / "bounces/sisimai__bsd_lhost-gsuite-03.eml").read_text(errors="replace")
    field = next(line for line in raw.splitlines() if line.startswith("X-Original-Message-ID"))
    assert result.original_message_id == field.split(":", 1)[1].strip()


def test_multi_recipient_text_bounce_keeps_each_reason():
    result = parse_bounce((CORPUS / "bounces/sisimai__bsd_lhost-v5sendmail-05.eml").read_bytes())
    reasons = {r.address: (r.reason, r.hard) for r in result.recipients}
    assert reasons["mikeneko@example.co.jp"] == ("userunknown", True)
    assert reasons["kuroneko@example.or.jp"] == ("hostunknown", True)
    assert reasons["kijitora@example.edu"][1] is False
    assert not result.standard


@pytest.mark.parametrize(
    "status, code, text, action, reason, hard",
    [
        ("5.1.1", "550", "550 5.1.1 <a@x>: Recipient address rejected: User unknown", "failed",
         "userunknown", True),
        ("5.1.1", "550", "550 5.1.1 a@x has sent to too many recipients this hour", "failed",
         "speeding", False),
        ("5.2.2", "552", "552 5.2.2 Mailbox full", "failed", "mailboxfull", False),
        ("5.1.1", "550", "User unknown; mailbox full", "failed", "mailboxfull", False),
        ("5.7.1", "553", ">>> RCPT TO:<a@x>\n<<< 553 Invalid recipient a@x", "failed",
         "userunknown", True),
        ("5.0.0", "550", "550 Unknown user a@x (after end of DATA)", "failed", "filtered", False),
        ("5.1.2", "", "Host or domain name not found", "failed", "hostunknown", True),
        ("5.1.6", "550", "550 5.1.6 recipient no longer on server", "failed", "hasmoved", True),
        ("5.1.10", "550", "domain does not accept mail (null MX)", "failed", "notaccept", True),
        ("4.1.10", "", "domain does not accept mail (null MX)", "delayed", "notaccept", False),
        ("5.7.1", "554", "554 5.7.1 Message rejected as spam", "failed", "spamdetected", False),
        ("4.4.7", "", "", "delayed", "expired", False),
        ("", "", "", "failed", "undefined", False),
    ],
)  # fmt: skip
def test_classify(status, code, text, action, reason, hard):
    assert classify(status, code, text, action) == (reason, hard)


def test_not_a_bounce_and_garbage():
    assert parse_bounce(b"From: ann@example.com\nSubject: hi\n\nhello") is None
    assert parse_bounce(b"\x00\xff" * 100) is None
    assert parse_bounce(b"") is None


def test_delivered_dsn_is_not_a_bounce():
    raw = (
        b"From: MAILER-DAEMON@mx.example.com\n"
        b"Content-Type: multipart/report; report-type=delivery-status; boundary=b\n\n"
        b"--b\nContent-Type: text/plain\n\nDelivered.\n"
        b"--b\nContent-Type: message/delivery-status\n\n"
        b"Reporting-MTA: dns; mx.example.com\n\n"
        b"Final-Recipient: rfc822; bob@example.com\nAction: delivered\nStatus: 2.0.0\n"
        b"--b--\n"
    )
    assert parse_bounce(raw) is None


def test_delayed_recipient_is_soft_even_with_a_hard_sounding_reason():
    raw = (
        b"From: MAILER-DAEMON@mx.example.com\n"
        b"Content-Type: multipart/report; report-type=delivery-status; boundary=b\n\n"
        b"--b\nContent-Type: message/delivery-status\n\n"
        b"Reporting-MTA: dns; mx.example.com\nOriginal-Envelope-Id: crm-42\n\n"
        b"Final-Recipient: rfc822; bob@example.com\nAction: delayed\nStatus: 4.1.1\n"
        b"Diagnostic-Code: smtp; 450 4.1.1 user unknown (try again)\n"
        b"--b--\n"
    )
    result = parse_bounce(raw)
    (recipient,) = result.recipients
    assert recipient.action == "delayed" and not recipient.hard
    assert result.original_envelope_id == "crm-42" and result.reporting_mta == "mx.example.com"
