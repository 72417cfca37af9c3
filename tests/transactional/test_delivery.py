"""Transactional email through the sending pool: queued by the outbox's one enqueue service,
sent by the pool's own worker to an aiosmtpd sink standing in for the relay, DKIM-signed,
deferred per destination domain, never resent, never sent to a hard-bounced address."""

from __future__ import annotations

import dkim as dkimpy
import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from mailboxes import jobs, signals
from mailboxes.constants import OutboundEventKind, SendStatus
from mailboxes.models import BouncedAddress, Outbound
from mailboxes.outbox import actions, sending
from mailboxes.outbox.enqueue import SendRefused, email_enqueue, email_enqueue_many
from records.models import ActivityLink
from tests.factories import ContactFactory
from tests.fakes.dns import FakeDnsServer
from tests.mailboxes.outbox import header, reload
from tests.transactional.pool import FROM, dkim_dns, pool_for, queue, transactional, txt_value
from transactional.pool import delivery
from transactional.pool import dkim as pool_dkim
from transactional.pool import queue as admin_queue
from transactional.pool.models import DomainDeferral

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning"),
]


def test_queued_through_the_enqueue_service_it_reaches_the_relay_tracked_and_dkim_signed(
    smtp_sink, owner, queued_jobs, django_capture_on_commit_callbacks
):
    pool = pool_for(smtp_sink, signing=True)
    contact = ContactFactory(owner=owner, emails=["ada@client.test"])
    with django_capture_on_commit_callbacks(execute=True):
        outbound = queue("ada@client.test", contacts=[contact])
    # Its own job, for its own queue; never the inboxes' send job, never an inbox.
    assert queued_jobs.args_of(jobs.SEND_TRANSACTIONAL) == [(outbound.pk,)]
    assert queued_jobs.args_of(jobs.SEND_OUTBOUND) == []
    assert settings.CELERY_TASK_ROUTES[jobs.SEND_TRANSACTIONAL] == {"queue": "transactional"}
    assert outbound.mailbox_id is None and outbound.envelope_from == FROM
    assert outbound.status == SendStatus.QUEUED
    # Logged on the contact's timeline like any email.
    assert ActivityLink.objects.filter(activity_id=outbound.message.activity_id).exists()

    sent = []

    def heard(sender, event, **_):
        sent.append(event)

    signals.email_sent.connect(heard)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            assert delivery.deliver(outbound.pk) == SendStatus.SENT
    finally:
        signals.email_sent.disconnect(heard)
    assert [(e.outbound_id, e.source) for e in sent] == [(outbound.pk, "transactional")]

    (received,) = smtp_sink.messages
    assert received.mail_from == FROM and received.rcpt_tos == ["ada@client.test"]
    assert received.login == smtp_sink.user
    data = received.data
    assert b"/t/o/" in data and b"/t/c/" in data  # open pixel and click link
    assert header(data, "List-Unsubscribe") is None  # transactional: no unsubscribe link
    assert header(data, "From") == f"Shop receipts <{FROM}>"
    # The DKIM signature verifies against the key published as the page says.
    with FakeDnsServer() as server:
        name = pool_dkim.record_name(pool.dkim_selector, pool.domain)
        server.add(name, "TXT", txt_value(pool_dkim.record_value(pool.dkim_public_key)))
        assert dkimpy.verify(data, dnsfunc=dkim_dns(server.resolver()))
    row = reload(outbound)
    assert row.status == SendStatus.SENT and row.sent_at and row.provider_id
    assert row.message.sent_at is not None


def test_the_inboxes_worker_never_touches_transactional_email(smtp_sink):
    pool_for(smtp_sink)
    outbound = queue()
    assert sending.send_outbound(outbound.pk) is None
    assert sum(sending.send_due(seconds=2).values()) == 0
    assert reload(outbound).status == SendStatus.QUEUED
    assert smtp_sink.messages == []


def test_a_relay_answering_421_then_250_delivers_exactly_once(smtp_sink, admin_user):
    pool_for(smtp_sink)
    outbound = queue("ada@client.test")
    smtp_sink.refuse("ada@client.test", "421 4.7.0 Try again later")

    assert delivery.deliver(outbound.pk) == SendStatus.DEFERRED
    row = reload(outbound)
    assert row.status == SendStatus.DEFERRED and row.attempts == 1
    assert "421 4.7.0 Try again later" in row.last_error
    assert row.next_attempt_at > row.created_at
    event = row.events.get()
    assert event.kind == OutboundEventKind.RETRY and "Next try at" in event.detail
    deferral = DomainDeferral.objects.get(domain="client.test")
    assert deferral.until == row.next_attempt_at
    # Not due yet: another pass sends nothing.
    assert sum(delivery.deliver_due(seconds=2).values()) == 0

    smtp_sink.handler.recipient_replies.clear()
    assert admin_queue.retry_now([outbound.pk], admin_user) == 1
    assert not DomainDeferral.objects.exists()  # retrying lifts the domain's hold
    assert delivery.deliver(outbound.pk) == SendStatus.SENT
    assert delivery.deliver(outbound.pk) is None
    assert sum(delivery.deliver_due(seconds=2).values()) == 0
    assert len(smtp_sink.messages) == 1
    row = reload(outbound)
    assert (row.status, row.attempts) == (SendStatus.SENT, 2)


def make_due(*outbounds) -> None:
    """What the passing of time does: the domains' deferrals and the rows' next tries are over
    (moved into the past in the database, the way a clock would leave them)."""
    past = Outbound.objects.get(pk=outbounds[0].pk).created_at
    DomainDeferral.objects.update(until=past)
    Outbound.objects.filter(pk__in=[o.pk for o in outbounds]).update(next_attempt_at=past)


def test_a_domain_that_defers_holds_back_its_mail_and_other_domains_go_on(smtp_sink):
    pool_for(smtp_sink)
    smtp_sink.refuse("bob@slow.test", "450 4.2.0 Mailbox busy")
    bob, carl, ada = queue("bob@slow.test"), queue("carl@slow.test"), queue("ada@fast.test")

    delivery.deliver_due(seconds=5)
    assert [m.rcpt_tos for m in smtp_sink.messages] == [["ada@fast.test"]]
    assert reload(ada).status == SendStatus.SENT
    bob_row, carl_row = reload(bob), reload(carl)
    assert bob_row.status == SendStatus.DEFERRED and "450 4.2.0 Mailbox busy" in bob_row.last_error
    # Carl's email was never offered to the relay: held back by its domain, saying why.
    assert (carl_row.status, carl_row.attempts) == (SendStatus.DEFERRED, 0)
    assert carl_row.last_error.startswith("Held back: the relay deferred mail to slow.test")
    assert carl_row.next_attempt_at == bob_row.next_attempt_at
    first = DomainDeferral.objects.get(domain="slow.test")
    assert first.failures == 1

    # Still deferring when the next try comes: the domain backs off longer.
    make_due(bob, carl)
    delivery.deliver_due(seconds=5)
    second = DomainDeferral.objects.get(domain="slow.test")
    assert second.failures == 2
    assert second.until - reload(bob).events.last().at > first.until - first.updated_at
    assert (reload(carl).status, reload(carl).attempts) == (SendStatus.DEFERRED, 0)

    # The relay takes mail for slow.test again: both go, the deferral ends.
    smtp_sink.handler.recipient_replies.clear()
    make_due(bob, carl)
    delivery.deliver_due(seconds=5)
    assert sorted(m.rcpt_tos[0] for m in smtp_sink.messages) == [
        "ada@fast.test",
        "bob@slow.test",
        "carl@slow.test",
    ]
    assert not DomainDeferral.objects.exists()


def test_a_5xx_fails_the_email_with_the_relays_words(smtp_sink):
    pool_for(smtp_sink)
    smtp_sink.refuse("nobody@client.test", "550 5.1.1 No such user here")
    outbound = queue("nobody@client.test")
    assert delivery.deliver(outbound.pk) == SendStatus.FAILED
    row = reload(outbound)
    assert row.status == SendStatus.FAILED
    assert "550 5.1.1 No such user here" in row.last_error
    assert row.events.get().kind == OutboundEventKind.FAILED
    assert not DomainDeferral.objects.exists()


def test_an_unreachable_relay_defers_the_mail_with_its_reason(smtp_sink):
    pool = pool_for(smtp_sink)
    first, second = queue("ada@client.test"), queue("bob@other.test")
    pool.port = 1  # nothing listens there
    pool.save()
    delivery.deliver_due(seconds=5)
    for outbound in (first, second):
        row = reload(outbound)
        assert row.status == SendStatus.DEFERRED
        assert row.last_error.startswith("The relay could not take email:")
    # The relay is to blame, not a destination.
    assert not DomainDeferral.objects.exists()


def test_transactional_sends_are_refused_while_the_add_on_is_off(smtp_sink):
    pool_for(smtp_sink, enabled=False)
    with pytest.raises(SendRefused) as refused:
        email_enqueue(transactional())
    assert refused.value.refusals == [
        "Transactional email is off: an admin turns it on under Settings › Add-on."
    ]
    assert not Outbound.objects.exists()


def test_a_hard_bounced_address_is_refused_at_enqueue_and_never_sent_to(smtp_sink):
    pool_for(smtp_sink)
    BouncedAddress.objects.create(address="gone@client.test", reason="550 no such user")
    with pytest.raises(SendRefused) as refused:
        email_enqueue(transactional("Gone@Client.test"))
    assert "gone@client.test bounced hard before" in refused.value.refusals[0]
    assert not Outbound.objects.exists()

    # An address that bounces after its email was queued: failed when due, never sent.
    outbound = queue("late@client.test")
    BouncedAddress.objects.create(address="late@client.test")
    assert delivery.deliver(outbound.pk) == SendStatus.FAILED
    assert "late@client.test bounced hard before" in reload(outbound).last_error
    assert smtp_sink.messages == []


def test_the_pools_minute_limit_holds_the_rest_until_the_next_minute(smtp_sink):
    pool_for(smtp_sink, minute_limit=2)
    rows = [queue(f"u{i}@client.test") for i in range(4)]
    cache.clear()  # the test's own cache (its Redis database): no count left by an earlier run
    started = timezone.now().replace(second=0, microsecond=0)
    delivery.deliver_due(seconds=5)
    same_minute = timezone.now().replace(second=0, microsecond=0) == started
    rows = [reload(r) for r in rows]
    sent = [r for r in rows if r.status == SendStatus.SENT]
    # Two in a minute; a pass that ran into the next minute may send two more.
    assert len(sent) == 2 if same_minute else 2 <= len(sent) <= 4
    assert len(smtp_sink.messages) == len(sent)
    waiting = [r for r in rows if r.status != SendStatus.SENT]
    assert all(r.status == SendStatus.QUEUED for r in waiting)
    assert all(
        r.last_error == "Waiting for the pool's limit of 2 emails a minute." for r in waiting
    )
    assert all(r.next_attempt_at > started for r in waiting)


def test_bulk_actions_are_all_or_nothing(smtp_sink, admin_user):
    pool_for(smtp_sink)
    smtp_sink.refuse("bob@slow.test", "451 4.3.0 Later")
    deferred, sent = queue("bob@slow.test"), queue("ada@fast.test")
    delivery.deliver_due(seconds=5)
    assert (reload(deferred).status, reload(sent).status) == (
        SendStatus.DEFERRED,
        SendStatus.SENT,
    )
    with pytest.raises(admin_queue.ActionRefused, match="1 of the chosen emails"):
        admin_queue.cancel([deferred.pk, sent.pk], admin_user)
    assert reload(deferred).status == SendStatus.DEFERRED

    assert admin_queue.cancel([deferred.pk], admin_user) == 1
    row = reload(deferred)
    assert row.status == SendStatus.CANCELLED
    assert row.events.last().kind == OutboundEventKind.CANCELLED
    # Cancelled is final: the worker never sends it.
    make_due(deferred)
    smtp_sink.handler.recipient_replies.clear()
    assert delivery.deliver(deferred.pk) is None
    assert [m.rcpt_tos for m in smtp_sink.messages] == [["ada@fast.test"]]


def test_the_reps_outbox_actions_leave_transactional_email_to_its_queue_page(smtp_sink, admin_user):
    pool_for(smtp_sink)
    outbound = queue()
    assert outbound.available_actions == []
    words = actions.perform(admin_user, reload(outbound), "cancel")
    assert words == "This email is sent by the transactional pool: change it from its Queue page."
    assert reload(outbound).status == SendStatus.QUEUED


def test_a_key_that_cannot_sign_defers_the_email_saying_so(smtp_sink):
    pool = pool_for(smtp_sink, signing=True)
    broken = "-----BEGIN RSA PRIVATE KEY-----\nbm90IGEga2V5\n-----END RSA PRIVATE KEY-----\n"
    pool.secret = {**pool.secret, "dkim_private_key": broken}
    pool.save()
    outbound = queue()
    assert delivery.deliver(outbound.pk) == SendStatus.DEFERRED
    row = reload(outbound)
    assert row.last_error.startswith("Could not DKIM-sign it") and row.attempts == 0
    assert smtp_sink.messages == []


def test_a_lost_answer_or_a_dead_worker_is_uncertain_never_sent_twice(smtp_sink):
    pool_for(smtp_sink)
    # The relay stores the message, then the connection drops before its answer.
    smtp_sink.handler.lose_answer = lambda n: "stored" if n == 1 else None
    lost = queue("ada@client.test")
    assert delivery.deliver(lost.pk) == SendStatus.UNCERTAIN
    row = reload(lost)
    assert row.status == SendStatus.UNCERTAIN
    assert row.last_error.endswith("Not sent again on its own: it may have gone out.")
    assert delivery.deliver(lost.pk) is None
    assert len(smtp_sink.messages) == 1

    # A worker died after marking an email "sending": once its lease is over, uncertain.
    orphan = queue("bob@client.test")
    long_ago = reload(orphan).created_at - delivery.SEND_LEASE * 2
    Outbound.objects.filter(pk=orphan.pk).update(status=SendStatus.SENDING, claimed_at=long_ago)
    delivery.deliver_due(seconds=5)
    row = reload(orphan)
    assert row.status == SendStatus.UNCERTAIN and "may or may not have gone out" in row.last_error
    assert len(smtp_sink.messages) == 1


def test_a_batch_of_transactional_email_is_queued_in_a_constant_number_of_queries(smtp_sink):
    pool_for(smtp_sink)
    BouncedAddress.objects.create(address="gone@client.test")

    def queries_for(n: int) -> int:
        batch = [transactional(f"u{n}-{i}@client.test") for i in range(n)]
        batch.append(transactional("gone@client.test"))
        with CaptureQueriesContext(connection) as captured:
            results = email_enqueue_many(batch)
        assert isinstance(results[-1], SendRefused)
        assert all(not isinstance(r, SendRefused) for r in results[:-1])
        return len(captured)

    assert queries_for(2) == queries_for(8)
