""" "delivered" events: the pool asks a relay that advertises DSN for delivery status
notifications (RFC 3461: NOTIFY=SUCCESS,FAILURE, ENVID, ORCPT), and the success report the
relay sends back to the envelope From, a connected inbox on the test Dovecot, is read by sync
as bounces are (mailboxes/bounces/processing.py) and recorded once, with its webhook. A relay
without DSN is asked nothing: "sent" stays the last state. No report of the corpus is read as
a delivery."""

from __future__ import annotations

import pytest

from mailboxes.bounces.processing import process_report
from mailboxes.bounces.reports import parse_bounce, parse_delivered
from mailboxes.constants import SendStatus
from mailboxes.sync.engine import sync_mailbox
from tests.mailboxes.corpus import corpus_files, file_id
from tests.mailboxes.inboxes import imap_mailbox, offline_mailbox
from tests.mailboxes.reports import dsn
from tests.transactional.dsn import REPORTING_MTA, success_dsn
from tests.transactional.pool import FROM, pool_for, queue
from transactional.events.constants import EventType
from transactional.events.models import StatusEvent, WebhookDelivery
from transactional.pool import delivery

from .test_webhooks import endpoint_for

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning"),
]


def types(outbound) -> list[str]:
    return list(
        StatusEvent.objects.filter(outbound=outbound)
        .order_by("occurred_at", "pk")
        .values_list("type", flat=True)
    )


def test_a_relay_with_dsn_is_asked_for_reports_and_its_success_report_is_delivered_once(
    dsn_relay, dovecot, owner, django_capture_on_commit_callbacks
):
    pool_for(dsn_relay)
    # The envelope From is a connected inbox: reports about the pool's mail come back there.
    inbox = imap_mailbox(owner, dovecot, email=FROM)
    endpoint, _ = endpoint_for("https://hooks.shop.test/crm", [EventType.DELIVERED])
    with django_capture_on_commit_callbacks(execute=True):
        outbound = queue("Ada@Client.test")
    with django_capture_on_commit_callbacks(execute=True):
        assert delivery.deliver(outbound.pk) == SendStatus.SENT

    (received,) = dsn_relay.messages
    message_id = outbound.message.message_id
    # RFC 3461: only the headers back, the Message-ID as envelope id, a report on success and
    # on failure for each recipient, with the address as the client gave it.
    assert received.dsn_mail == {"RET": "HDRS", "ENVID": message_id}
    assert received.dsn_rcpt == {
        "Ada@Client.test": {"NOTIFY": "SUCCESS,FAILURE", "ORCPT": "rfc822;Ada@Client.test"}
    }
    assert types(outbound) == [EventType.QUEUED, EventType.SENT]

    # The relay's success report lands in the inbox; sync reads it the way it reads bounces.
    report = success_dsn(received)
    dovecot.deliver(report)
    with django_capture_on_commit_callbacks(execute=True):
        sync_mailbox(inbox.pk)
    assert types(outbound) == [EventType.QUEUED, EventType.SENT, EventType.DELIVERED]
    delivered = StatusEvent.objects.get(outbound=outbound, type=EventType.DELIVERED)
    assert delivered.data == {"address": "ada@client.test", "reportingMta": REPORTING_MTA}
    assert WebhookDelivery.objects.filter(endpoint=endpoint, type=EventType.DELIVERED).count() == 1
    # Not logged as mail on any timeline, and not a bounce.
    outbound.message.refresh_from_db()
    assert outbound.message.bounce == ""

    # The same report again (a relay that sent it twice, a folder read again): once.
    dovecot.deliver(report)
    with django_capture_on_commit_callbacks(execute=True):
        sync_mailbox(inbox.pk)
        process_report(inbox, report)
    assert types(outbound).count(EventType.DELIVERED) == 1
    assert WebhookDelivery.objects.filter(endpoint=endpoint, type=EventType.DELIVERED).count() == 1


def test_without_dsn_the_relay_is_asked_nothing_and_sent_stays_the_last_state(
    smtp_sink, django_capture_on_commit_callbacks
):
    pool_for(smtp_sink)
    with django_capture_on_commit_callbacks(execute=True):
        outbound = queue("ada@client.test")
    with django_capture_on_commit_callbacks(execute=True):
        assert delivery.deliver(outbound.pk) == SendStatus.SENT
    (received,) = smtp_sink.messages  # aiosmtpd refuses parameters it does not offer
    assert received.dsn_mail == {} and received.dsn_rcpt == {}
    assert types(outbound) == [EventType.QUEUED, EventType.SENT]


def test_reports_are_asked_for_only_when_the_envelope_from_is_an_inbox_the_crm_reads(
    dsn_relay, owner, django_capture_on_commit_callbacks
):
    """Nobody reading the pool's From address, success reports would only pile up there."""
    pool_for(dsn_relay)
    first = queue("ada@client.test")
    assert delivery.deliver(first.pk) == SendStatus.SENT
    offline_mailbox(owner, email=FROM.upper())  # connected later, its case aside
    second = queue("bo@client.test")
    assert delivery.deliver(second.pk) == SendStatus.SENT
    unasked, asked = dsn_relay.messages
    assert unasked.dsn_mail == {} and unasked.dsn_rcpt == {"ada@client.test": {}}
    assert asked.dsn_mail == {"RET": "HDRS", "ENVID": second.message.message_id}
    assert asked.dsn_rcpt["bo@client.test"]["NOTIFY"] == "SUCCESS,FAILURE"


def test_only_a_real_success_report_about_our_email_and_its_recipient_is_a_delivery(
    dsn_relay, owner, django_capture_on_commit_callbacks
):
    pool_for(dsn_relay)
    offline_mailbox(owner, email=FROM)
    outbound = queue("ada@client.test")
    assert delivery.deliver(outbound.pk) == SendStatus.SENT
    (received,) = dsn_relay.messages

    def delivered_after(raw: bytes) -> int:
        with django_capture_on_commit_callbacks(execute=True):
            process_report(None, raw)
        return types(outbound).count(EventType.DELIVERED)

    # Relayed onward to a system without DSN, or expanded: not delivered.
    assert delivered_after(success_dsn(received, action="relayed")) == 0
    assert delivered_after(success_dsn(received, action="expanded")) == 0
    # "delivered" with a failure status is no success.
    assert delivered_after(success_dsn(received, status="5.1.1")) == 0
    # A failure report for it is a bounce, never a delivery.
    raw = dsn(outbound.message.message_id, "ada@client.test", "5.1.1", "550 5.1.1 No such user")
    assert delivered_after(raw) == 0
    assert parse_delivered(raw) is None
    assert EventType.BOUNCED in types(outbound)
    # A stranger's success report naming our recipient (another message): nothing.
    stranger = success_dsn(received).replace(
        outbound.message.message_id.encode(), b"<other@elsewhere.test>"
    )
    assert delivered_after(stranger) == 0
    # Ours, but for an address it was not sent to: nothing.
    other = success_dsn(received).replace(b"ada@client.test", b"eve@client.test")
    assert delivered_after(other) == 0
    # The real one.
    assert delivered_after(success_dsn(received)) == 1


def test_no_message_of_the_corpus_is_read_as_a_delivery():
    """366 messages: DSNs of 71 MTAs (failed, delayed), ARF, MDNs, auto-replies, Amazon SES
    notifications (its "delivered" ones are SNS JSON, not DSNs) and ordinary mail."""
    files = corpus_files()
    assert len(files) == 366  # every file (tests/mailboxes/test_corpus.py holds the manifest)
    read = [p.name for p in files if parse_delivered(p.read_bytes()) is not None]
    assert read == []


@pytest.mark.parametrize(
    "path", [*corpus_files("bounces"), *corpus_files("line_endings")], ids=file_id
)
def test_no_corpus_report_about_a_transactional_email_records_a_delivery(
    path, dsn_relay, owner, django_capture_on_commit_callbacks
):
    """Each report applied to a transactional email with its Message-ID and its recipients:
    the best match a misread report could find. No "delivered" event comes of it."""
    raw = path.read_bytes()
    report = parse_bounce(raw)
    original = getattr(report, "original_message_id", None)
    addresses = [r.address for r in getattr(report, "recipients", ()) if getattr(r, "address", "")]
    pool_for(dsn_relay)
    offline_mailbox(owner, email=FROM)
    outbound = queue(addresses[0] if addresses else "nobody@client.test")
    if original:
        outbound.message.message_id = original
        outbound.message.save(update_fields=["message_id"])
    assert delivery.deliver(outbound.pk) == SendStatus.SENT
    with django_capture_on_commit_callbacks(execute=True):
        process_report(None, raw)
    assert EventType.DELIVERED not in types(outbound)


def test_dsn_parameters_are_xtext_and_an_envelope_id_over_100_characters_is_left_out():
    from mailboxes.bounces.reports import xtext_decode
    from mailboxes.providers.imap_smtp import dsn_mail_options, dsn_rcpt_options, xtext

    assert xtext("ada+tag=1@client.test") == "ada+2Btag+3D1@client.test"
    assert xtext_decode(xtext("<a+b=c d@x>")) == "<a+b=c d@x>"
    assert dsn_rcpt_options("ada+tag@client.test") == [
        "NOTIFY=SUCCESS,FAILURE",
        "ORCPT=rfc822;ada+2Btag@client.test",
    ]
    # RFC 6533's utf-8 type is not spoken: a non-ASCII address gets no ORCPT.
    assert dsn_rcpt_options("zoë@client.test") == ["NOTIFY=SUCCESS,FAILURE"]
    assert dsn_mail_options("<abc@crm.test>") == ["RET=HDRS", "ENVID=<abc@crm.test>"]
    assert dsn_mail_options("<" + "a" * 120 + "@crm.test>") == ["RET=HDRS"]
