"""Machine-sent mail is told apart from people's replies by headers alone."""

import pytest

from mailboxes.bounces.reports import parse_bounce
from mailboxes.mime.autoreply import (
    AUTO_GENERATED,
    AUTO_REPLY,
    BULK,
    DELIVERY_REPORT,
    FEEDBACK_REPORT,
    MAILING_LIST,
    READ_RECEIPT,
    auto_reply_reason,
)
from mailboxes.mime.parsing import Headers, parse_headers

from .corpus import CORPUS, corpus_files

PERSON = {"from_addr": "ann@example.com", "from_name": "Ann"}


@pytest.mark.parametrize(
    "fields, reason",
    [
        ({}, None),
        ({"auto_submitted": "no"}, None),
        ({"auto_submitted": "auto-replied"}, AUTO_REPLY),
        ({"auto_submitted": "Auto-Generated (failure)"}, AUTO_GENERATED),
        ({"auto_submitted": "auto-notified"}, AUTO_GENERATED),
        ({"x_autoreply": "yes"}, AUTO_REPLY),
        ({"x_autorespond": "Autoresponder"}, AUTO_REPLY),
        ({"precedence": "auto_reply"}, AUTO_REPLY),
        ({"precedence": "bulk"}, BULK),
        ({"precedence": "junk"}, BULK),
        ({"precedence": "list"}, MAILING_LIST),
        ({"list_id": "<dev.lists.example.org>"}, MAILING_LIST),
        ({"return_path": "<>"}, AUTO_GENERATED),
        # Outlook and Exchange set it on ordinary mail: a request, not a statement.
        ({"x_auto_response_suppress": "All"}, None),
        ({"x_auto_response_suppress": "DR, RN, NRN, OOF, AutoReply"}, None),
        ({"content_type": "multipart/report", "report_type": "delivery-status"}, DELIVERY_REPORT),
        (
            {"content_type": "multipart/report", "report_type": "disposition-notification"},
            READ_RECEIPT,
        ),
        ({"content_type": "multipart/report", "report_type": "feedback-report"}, FEEDBACK_REPORT),
        ({"from_addr": "MAILER-DAEMON@mx.example.com"}, DELIVERY_REPORT),
        ({"from_addr": None, "from_name": "Mail Delivery System"}, DELIVERY_REPORT),
        ({"subject": "Undelivered Mail Returned to Sender", "return_path": "<>"}, DELIVERY_REPORT),
        ({"subject": "Fwd: Undeliverable: our offer"}, None),  # a person forwarding a bounce
    ],
)
def test_header_signals(fields, reason):
    assert auto_reply_reason(Headers(**{**PERSON, **fields})) == reason


@pytest.mark.parametrize(
    "subject",
    [
        "Automatic reply: Quote 42",
        "Out of Office: Quote 42",
        "Out of Office AutoReply: Quote 42",
        "AutoReply: Quote 42",
        "Auto-Reply: Quote 42",
        "Abwesenheitsnotiz: Angebot",
        "Automatische Antwort: Angebot",
        "Réponse automatique : Devis",
        "Respuesta automática: Presupuesto",
        "Risposta automatica: Preventivo",
        "Resposta automática: Orçamento",
        "Automatisch antwoord: Offerte",
        "Automatisk svar: Tilbud",
        "Automaattinen vastaus: Tarjous",
        "Odpowiedź automatyczna: Oferta",
        "Автоматический ответ: Предложение",
        "自動返信: 見積もり",
        "Ann Smith is out of the office.",
    ],
)
def test_out_of_office_subjects(subject):
    assert auto_reply_reason(Headers(**PERSON, subject=subject)) == AUTO_REPLY


@pytest.mark.parametrize(
    "subject",
    [
        "Re: our out of office policy",
        "Auto: Angebot für Ihren Golf",  # German for car
        "Automation roadmap",
        "Vacation request for July",
    ],
)
def test_human_subjects_are_not_auto_replies(subject):
    assert auto_reply_reason(Headers(**PERSON, subject=subject)) is None


def test_corpus_auto_replies_and_lists():
    for name in ("bounces/sisimai__bsd_rfc3834-01.eml", "line_endings/sisimai__mac_rfc3834-01.eml"):
        assert auto_reply_reason(parse_headers((CORPUS / name).read_bytes())) == AUTO_REPLY
    for path in corpus_files("threading"):
        if path.name.startswith("notmuch__lkml_"):
            headers = parse_headers(path.read_bytes())
            assert auto_reply_reason(headers) in (BULK, MAILING_LIST)
    mdn = CORPUS / "bounces" / "mimekit__messages_disposition-notification.eml"
    assert auto_reply_reason(parse_headers(mdn.read_bytes())) == READ_RECEIPT


def test_every_bounce_is_flagged_before_the_body_is_read():
    # Sync decides from headers whether to hand a message to parse_bounce: none may slip by.
    for path in corpus_files():
        raw = path.read_bytes()
        if parse_bounce(raw) is not None:
            assert auto_reply_reason(parse_headers(raw)) in (DELIVERY_REPORT, FEEDBACK_REPORT), (
                path.name
            )


def test_ordinary_corpus_mail_is_not_flagged_as_machine_sent():
    for category in ("wellformed", "encodings", "html_hostile"):
        for path in corpus_files(category):
            reason = auto_reply_reason(parse_headers(path.read_bytes()))
            assert reason in (None, BULK, MAILING_LIST, AUTO_GENERATED), (path.name, reason)
