"""A token's details count what was sent with it: emails queued through the enqueue service
with the token as their source, their sending state, bounces, and opens and clicks by people
(written by the tracking pipeline); other sources and other tokens are not counted."""

from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from mailboxes.bounces.processing import process_report
from mailboxes.constants import BounceKind, Direction, SendSource, SendStatus
from mailboxes.models import (
    EmailMessage,
    EmailThread,
    Mailbox,
    Outbound,
    TrackedLink,
    TrackingKind,
    TrackingRollup,
)
from mailboxes.outbox.enqueue import OutgoingEmail, Source, email_enqueue
from mailboxes.tracking import events
from mailboxes.tracking.classify import Hit
from privacy.constants import SenderContext
from tests.factories import ContactFactory
from tests.mailboxes.reports import arf
from transactional.credentials import services
from transactional.credentials.stats import send_stats
from transactional.pool.models import SendingPool

pytestmark = pytest.mark.django_db

INBOX_ADDRESS = "orders@shop.example"
BROWSER = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 Version/17.4 Safari"


@pytest.fixture
def inbox(admin_user):
    return Mailbox.objects.create(
        kind="personal", provider="imap", email=INBOX_ADDRESS, owner=admin_user, config={}
    )


@pytest.fixture(autouse=True)
def pool():
    # Transactional email goes out through the sending pool, never an inbox.
    SendingPool(pk=1, enabled=True, host="relay.example", from_address=INBOX_ADDRESS).save()


def queue(inbox, owner, source: Source) -> EmailMessage:
    contact = ContactFactory(owner=owner)
    return email_enqueue(
        OutgoingEmail(
            mailbox=None if source.kind == SendSource.TRANSACTIONAL else inbox,
            from_address=INBOX_ADDRESS,
            from_name="Shop",
            subject="Your receipt",
            html="<p>Thanks! <a href='https://shop.example/order'>Your order</a></p>",
            to=[contact.email],
            privacy_context=SenderContext.TRANSACTIONAL,
            source=source,
            contacts=[contact],
            log=False,
        )
    )


def sent(message: EmailMessage, **fields) -> None:
    # What the sending worker records when the relay accepted it.
    Outbound.objects.filter(message=message).update(
        status=SendStatus.SENT, sent_at=timezone.now() - timedelta(hours=1), **fields
    )


def hit(message: EmailMessage, kind: str) -> Hit:
    link = TrackedLink.objects.filter(message=message).first() if kind == "click" else None
    return Hit(kind, message.pk, timezone.now(), link.pk if link else None, "198.51.100.7", BROWSER)


def test_a_token_counts_only_its_own_email(
    admin_user, owner, inbox, client, django_assert_num_queries
):
    token = services.smtp_token_create("Shop", admin_user).credential
    other = services.smtp_token_create("Other", admin_user).credential
    mine = Source(SendSource.TRANSACTIONAL, id=token.pk)

    opened, clicked, bounced, plain = (queue(inbox, owner, mine) for _ in range(4))
    waiting = queue(inbox, owner, mine)
    failed = queue(inbox, owner, mine)
    for message in (opened, clicked, bounced, plain):
        sent(message)
    Outbound.objects.filter(message=failed).update(status=SendStatus.FAILED)
    EmailMessage.objects.filter(pk=bounced.pk).update(bounce=BounceKind.HARD)
    # Not this token's: another token's, and a sequence step with the same id.
    for source in (
        Source(SendSource.TRANSACTIONAL, id=other.pk),
        Source(SendSource.SEQUENCE, id=token.pk),
    ):
        sent(queue(inbox, owner, source))
    with transaction.atomic():
        events.write_events(
            [
                hit(opened, TrackingKind.OPEN),
                hit(clicked, TrackingKind.OPEN),
                hit(clicked, TrackingKind.CLICK),
            ]
        )

    with django_assert_num_queries(1):
        stats = send_stats(token)

    assert (stats.sent, stats.delivered, stats.bounced) == (4, 3, 1)
    assert (stats.opened, stats.clicked) == (2, 1)
    assert (stats.waiting, stats.failed) == (1, 1)
    assert (stats.open_rate, stats.click_rate) == (67, 33)
    assert Outbound.objects.get(message=waiting).status == SendStatus.QUEUED
    # Deferred by the relay: still waiting.
    Outbound.objects.filter(message=waiting).update(status=SendStatus.DEFERRED)
    assert send_stats(token).waiting == 1
    other_stats = send_stats(other)
    assert (other_stats.sent, other_stats.opened, other_stats.open_rate) == (1, 0, 0)

    client.force_login(admin_user)
    html = client.get(reverse("transactional:smtp-token", args=[token.pk])).content.decode()
    assert "<dt>Delivered</dt><dd>3</dd>" in html
    assert '<dt>Opened</dt><dd>2 <span class="muted">(67%)</span></dd>' in html
    assert "<dt>Bounced</dt><dd>1</dd>" in html


def test_a_new_token_has_nothing_to_count(admin_user):
    stats = send_stats(services.smtp_token_create("Shop", admin_user).credential)
    assert (stats.sent, stats.delivered, stats.opened, stats.open_rate) == (0, 0, 0, None)


def test_the_stats_query_finds_a_tokens_rows_by_the_source_index(admin_user, owner, postgresql):
    """Among thousands of other sources' emails, PostgreSQL's own planner reaches a token's
    rows (and a source's rollups) through the (source, source_id) indexes, not a scan."""
    token = services.smtp_token_create("Shop", admin_user).credential
    thread = EmailThread.objects.create(subject="Step")
    messages = EmailMessage.objects.bulk_create(
        EmailMessage(thread=thread, direction=Direction.OUTGOING, subject=f"Step {n}")
        for n in range(4000)
    )
    now = timezone.now()
    Outbound.objects.bulk_create(
        Outbound(
            message=m,
            sender=owner,
            envelope_from=INBOX_ADDRESS,
            status=SendStatus.SENT,
            next_attempt_at=now,
            privacy_context=SenderContext.SEQUENCE,
            source=SendSource.SEQUENCE,
            source_id=n % 50,
        )
        for n, m in enumerate(messages)
    )
    TrackingRollup.objects.bulk_create(
        TrackingRollup(message=m, source=SendSource.SEQUENCE, source_id=n % 50)
        for n, m in enumerate(messages)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE mailboxes_outbound")
        cursor.execute("ANALYZE mailboxes_trackingrollup")

    stats = Outbound.objects.filter(source=SendSource.TRANSACTIONAL, source_id=token.pk)
    plan = stats.explain()
    assert "outbound_source" in plan, plan
    assert "Seq Scan on mailboxes_outbound" not in plan, plan
    rollups = TrackingRollup.objects.filter(source=SendSource.TRANSACTIONAL, source_id=token.pk)
    plan = rollups.explain()
    assert "tracking_rollup_source" in plan, plan
    # send_stats' own query, as it ran: its plan reaches the rows by the index too.
    with CaptureQueriesContext(connection) as ran:
        assert send_stats(token).sent == 0
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + ran.captured_queries[-1]["sql"])
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "outbound_source" in plan, plan
    assert "Seq Scan on mailboxes_outbound" not in plan, plan


def test_spam_complaints_are_counted_from_the_arf_reports_about_the_tokens_email(
    admin_user, owner, inbox, client, django_capture_on_commit_callbacks, django_assert_num_queries
):
    token = services.smtp_token_create("Shop", admin_user).credential
    other = services.smtp_token_create("Other", admin_user).credential
    mine = Source(SendSource.TRANSACTIONAL, id=token.pk)
    reported, twice, opted_out, quiet = (queue(inbox, owner, mine) for _ in range(4))
    theirs = queue(inbox, owner, Source(SendSource.TRANSACTIONAL, id=other.pk))
    for message in (reported, twice, opted_out, quiet, theirs):
        sent(message)

    def report(message, feedback_type="abuse"):
        # The feedback loop's report arrives in an inbox and goes the real way: processed,
        # complaint_received on commit, a StatusEvent recorded by transactional/events.
        address = message.contacts.get().email
        with django_capture_on_commit_callbacks(execute=True):
            return process_report(inbox, arf(message.message_id, address, feedback_type))

    assert report(reported).startswith("Spam complaint")
    assert report(twice).startswith("Spam complaint")
    report(twice)  # the same complaint heard again counts once
    assert report(opted_out, "opt-out").startswith("Opt-out request")  # an unsubscribe
    report(theirs)

    with django_assert_num_queries(1):
        stats = send_stats(token)
    assert (stats.sent, stats.complained, stats.complaint_rate) == (4, 2, 50)
    assert send_stats(other).complained == 1

    client.force_login(admin_user)
    html = client.get(reverse("transactional:smtp-token", args=[token.pk])).content.decode()
    assert '<dt>Spam complaints</dt><dd>2 <span class="muted">(50%)</span></dd>' in html
