"""A send whose answer is lost is "checking" at once and never retried blind.

The SMTP sink stores a message and drops the connection before its 250 (or drops it before
storing anything); the Gmail fake sends and then drops the connection before answering. The
worker asks the provider (the Sent folder by Message-ID) before doing anything else: found ->
reconciled; not found where the server files everything it sends -> sent again, once; not
found where it does not -> uncertain, for the rep. The email's history says which happened.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from mailboxes.constants import OutboundEventKind, SendStatus
from mailboxes.models import Mailbox, Outbound
from mailboxes.outbox import reconcile
from mailboxes.outbox.sending import send_due, send_outbound
from tests.mailboxes.inboxes import imap_mailbox
from tests.mailboxes.outbox import header, reload, submit
from tests.mailboxes.test_views import EWS_PASSWORD, EXCHANGE_URL, microsoft_round_trip

from .test_send_faults import gmail_inbox

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning"),
    pytest.mark.django_db,
]


def check_now(outbound: Outbound) -> None:
    """Let CHECK_DELAY pass, as the next beat-driven pass after it would see."""
    Outbound.objects.filter(pk=outbound.pk).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )


def history(outbound: Outbound) -> list[tuple[str, str]]:
    return [(e.kind, e.detail) for e in reload(outbound).events.all()]


def lose_first_answer(smtp_sink, kind: str = "stored") -> None:
    smtp_sink.handler.lose_answer = lambda n: kind if n == 1 else None


def test_a_lost_smtp_answer_is_checking_at_once_and_uncertain_when_sent_cannot_tell(
    owner, contact, dovecot, smtp_sink
):
    inbox = imap_mailbox(owner, dovecot, smtp_sink)
    lose_first_answer(smtp_sink)
    outbound = submit(owner, inbox)
    before = timezone.now()

    assert send_outbound(outbound.pk) == SendStatus.CHECKING

    row = reload(outbound)
    assert len(smtp_sink.messages) == 1  # the server kept it; we never heard so
    assert row.status == SendStatus.CHECKING
    assert row.next_attempt_at >= before + reconcile.CHECK_DELAY
    assert row.attempted_at is not None
    assert "may or may not have been accepted" in row.last_error
    # Not retried a minute later as a temporary error would be: nothing is due yet.
    assert send_due() == {}

    check_now(outbound)
    assert send_due() == {SendStatus.UNCERTAIN: 1}

    row = reload(outbound)
    assert row.status == SendStatus.UNCERTAIN
    assert row.last_error == reconcile.LOST_ANSWER_WORDS
    assert [kind for kind, _ in history(outbound)] == [
        OutboundEventKind.UNCERTAIN,
        OutboundEventKind.UNCERTAIN,
    ]
    assert history(outbound)[-1][1] == reconcile.LOST_ANSWER_WORDS
    assert send_due() == {}
    assert len(smtp_sink.messages) == 1  # one copy, ever


def test_a_lost_answer_found_in_sent_is_reconciled(owner, contact, dovecot, smtp_sink):
    # This server files what it relays in Sent, as Gmail's and Office 365's SMTP do.
    smtp_sink.handler.on_store = lambda data: dovecot.deliver(data, folder="Sent", seen=True)
    inbox = imap_mailbox(owner, dovecot, smtp_sink)
    lose_first_answer(smtp_sink)
    outbound = submit(owner, inbox)

    assert send_outbound(outbound.pk) == SendStatus.CHECKING
    check_now(outbound)
    assert send_due() == {SendStatus.RECONCILED: 1}

    row = reload(outbound)
    assert row.status == SendStatus.RECONCILED
    assert row.sent_at == row.attempted_at  # dated by the attempt that went out
    assert history(outbound)[-1] == (OutboundEventKind.CHECKED, reconcile.FOUND_WORDS)
    assert len(smtp_sink.messages) == 1


def test_a_lost_answer_absent_from_a_filing_servers_sent_is_sent_again_once(
    owner, contact, dovecot, smtp_sink
):
    smtp_sink.handler.on_store = lambda data: dovecot.deliver(data, folder="Sent", seen=True)
    inbox = imap_mailbox(owner, dovecot, smtp_sink)
    Mailbox.objects.filter(pk=inbox.pk).update(server_files_sent=True)  # learned earlier
    lose_first_answer(smtp_sink, "unstored")  # dropped mid-DATA, before the server kept it
    outbound = submit(owner, inbox)

    assert send_outbound(outbound.pk) == SendStatus.CHECKING
    assert smtp_sink.messages == []
    check_now(outbound)
    assert send_due() == {SendStatus.SENT: 1}

    (received,) = smtp_sink.messages
    assert header(received.data, "Message-ID") == outbound.message.message_id
    row = reload(outbound)
    assert (row.status, row.attempts) == (SendStatus.SENT, 2)
    assert row.sent_copy == ""  # the server filed it itself
    assert [kind for kind, _ in history(outbound)] == [
        OutboundEventKind.UNCERTAIN,
        OutboundEventKind.CHECKED,
    ]
    assert history(outbound)[-1][1] == reconcile.ABSENT_WORDS


def test_a_connection_dropped_before_data_is_a_plain_retry(owner, contact, dovecot, smtp_sink):
    inbox = imap_mailbox(owner, dovecot, smtp_sink)
    smtp_sink.handler.drop_at_rcpt = True
    outbound = submit(owner, inbox)

    assert send_outbound(outbound.pk) == "retry"

    row = reload(outbound)
    assert row.status == SendStatus.QUEUED
    assert "nothing went out" in row.last_error
    ((kind, detail),) = history(outbound)
    assert kind == OutboundEventKind.RETRY and "Trying again at" in detail
    smtp_sink.handler.drop_at_rcpt = False
    check_now(outbound)
    assert send_due() == {SendStatus.SENT: 1}
    assert len(smtp_sink.messages) == 1


def test_a_lost_gmail_answer_is_looked_up_in_sent_not_sent_again(owner, contact, fake_google):
    google = fake_google
    inbox = gmail_inbox(owner, google)
    google.lose_replies("messages/send")
    outbound = submit(owner, inbox)

    assert send_outbound(outbound.pk) == SendStatus.CHECKING
    (delivered,) = google.outbox
    check_now(outbound)
    assert send_due() == {SendStatus.RECONCILED: 1}

    row = reload(outbound)
    assert row.status == SendStatus.RECONCILED
    assert row.provider_id == delivered.id
    assert len(google.outbox) == 1
    assert history(outbound)[-1] == (OutboundEventKind.CHECKED, reconcile.FOUND_WORDS)


def assert_found_in_sent_not_sent_again(owner, inbox, delivered: list) -> None:
    """Submit an email whose answer the provider loses: checked, found in Sent, reconciled;
    `delivered` (the fake's outbox) holds one copy throughout."""
    outbound = submit(owner, inbox)

    assert send_outbound(outbound.pk) == SendStatus.CHECKING
    assert len(delivered) == 1
    check_now(outbound)
    assert send_due() == {SendStatus.RECONCILED: 1}

    assert reload(outbound).status == SendStatus.RECONCILED
    assert len(delivered) == 1
    assert history(outbound)[-1] == (OutboundEventKind.CHECKED, reconcile.FOUND_WORDS)


def test_a_lost_graph_answer_is_looked_up_in_sent_items_not_sent_again(
    client, owner, contact, fake_microsoft
):
    fake_microsoft.add_user("ana@contoso.test", "Ana Lopez")
    client.force_login(owner)
    microsoft_round_trip(client, fake_microsoft, "ana@contoso.test")
    inbox = Mailbox.objects.get(owner=owner)
    fake_microsoft.lose_replies("sendMail")
    assert_found_in_sent_not_sent_again(owner, inbox, fake_microsoft.outbox)


def test_a_lost_ews_answer_is_looked_up_in_sent_items_not_sent_again(
    client, owner, contact, fake_exchange
):
    box = fake_exchange.add_mailbox("ana@example.test", password=EWS_PASSWORD)
    client.force_login(owner)
    client.post(
        EXCHANGE_URL,
        {"email": "ana@example.test", "password": EWS_PASSWORD, "ews_url": fake_exchange.url},
    )
    inbox = Mailbox.objects.get(owner=owner)
    fake_exchange.lose_replies("CreateItem")
    assert_found_in_sent_not_sent_again(owner, inbox, box.outbox)
