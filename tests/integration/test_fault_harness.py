"""The fault harness of `make faults` (faults/), on a run small enough for the suite: its counts
must agree with the rows and the sink, so the harness cannot rot between runs of `make faults`.
"""

from __future__ import annotations

import random

import pytest

from faults import harness
from mailboxes.constants import SendStatus
from mailboxes.models import Outbound
from tests.integration import servers
from tests.integration.servers import ReceivedMessage
from tests.mailboxes.inboxes import imap_mailbox, unreachable_mailbox

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning"),
    # Two worker starts and a kill: a worker that never comes back fails here, not in 300 s.
    pytest.mark.timeout(90),
]
TO = "olivia@acme.example"  # the `contact` fixture's address


class Sink:
    """What the tally reads of a sink: the messages it stored."""

    def __init__(self, *raws: bytes) -> None:
        self.messages = [
            ReceivedMessage("rep@crm.example", [TO], raw, "sender", False) for raw in raws
        ]


def raw_of(outbound_id: int) -> bytes:
    return bytes(Outbound.objects.get(pk=outbound_id).message.raw)


@pytest.mark.django_db
def test_the_tally_counts_copies_by_message_id_against_what_each_row_says(owner, contact):
    ids = harness.queue_emails(owner, unreachable_mailbox(owner), [TO], 6)
    statuses = [
        SendStatus.SENT,  # received twice: one duplicate
        SendStatus.RECONCILED,  # received once
        SendStatus.SENT,  # never received: lost
        SendStatus.UNCERTAIN,  # received: not lost, not a duplicate
        SendStatus.UNCERTAIN,  # never received, and the product says it may not have gone out
        SendStatus.QUEUED,  # never received and never settled: lost
    ]
    for outbound_id, status in zip(ids, statuses, strict=True):
        Outbound.objects.filter(pk=outbound_id).update(status=status)
    stray = b"Message-ID: <someone-else@example.test>\r\nSubject: not ours\r\n\r\nHi\r\n"
    sink = Sink(raw_of(ids[0]), raw_of(ids[1]), raw_of(ids[0]), raw_of(ids[3]), stray)

    tally = harness.tally(ids, sink)

    assert tally.line("t") == ("FAULTS name=t queued=6 received=3 duplicated=1 lost=2 uncertain=2")
    assert (tally.uncertain_received, tally.unsettled, tally.strays) == (1, 1, 1)
    assert not tally.ok


@pytest.mark.django_db(transaction=True)
def test_a_send_worker_killed_mid_run_loses_and_duplicates_nothing(
    owner, contact, dovecot, smtp_sink, redis_url, postgresql, tmp_path
):
    inbox = imap_mailbox(owner, dovecot, smtp_sink, send_per_minute=1_000, send_per_day=1_000)
    harness.purge(redis_url)
    ids = harness.queue_emails(owner, inbox, [TO], 30)

    outcome = harness.run_sends(
        ids, smtp_sink, redis_url, tmp_path, kills=1, settle_seconds=30.0, rng=random.Random(4)
    )

    ((killed_at, _),) = outcome.killed_at
    assert 0 < killed_at < len(smtp_sink.messages), "the kill did not land mid-run"
    assert outcome.settled_in is not None, outcome.report()
    tally = outcome.tally
    copies = [harness.message_id(m.data) for m in smtp_sink.messages]
    assert len(copies) == len(set(copies)) == tally.received
    never_received = tally.uncertain - tally.uncertain_received
    assert tally.received + never_received + tally.statuses[SendStatus.FAILED] == 30
    assert tally.line("send_kill") == (
        f"FAULTS name=send_kill queued=30 received={tally.received} duplicated=0 lost=0 "
        f"uncertain={tally.uncertain}"
    )
    assert outcome.ok, outcome.report()


@pytest.mark.django_db(transaction=True)
def test_replies_the_sink_drops_are_checked_never_sent_again(
    owner, contact, dovecot, redis_url, postgresql, tmp_path
):
    sink = servers.start_smtp_sink(handler=harness.dropping_sink(5))
    try:
        inbox = imap_mailbox(owner, dovecot, sink, send_per_minute=1_000, send_per_day=1_000)
        harness.purge(redis_url)
        ids = harness.queue_emails(owner, inbox, [TO], 20)

        outcome = harness.run_sends(
            ids, sink, redis_url, tmp_path, kills=0, settle_seconds=30.0, rng=random.Random(5)
        )
    finally:
        sink.controller.stop()

    assert outcome.settled_in is not None, outcome.report()
    tally = outcome.tally
    assert tally.line("dropped_reply") == (
        "FAULTS name=dropped_reply queued=20 received=20 duplicated=0 lost=0 uncertain=4"
    )
    assert outcome.ok, outcome.report()
