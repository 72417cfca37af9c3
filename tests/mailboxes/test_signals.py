"""mailboxes.signals: each signal reaches a receiver, after commit, with its documented payload.

The facts come about the real way: a reply synced from Dovecot, a bounce report applied, an
email sent to the aiosmtpd sink (or refused by it), a hit written by tracking.
"""

from datetime import date, timedelta
from email.message import EmailMessage as MimeMessage
from email.utils import format_datetime, make_msgid

import pytest
from django.utils import timezone

from mailboxes import signals
from mailboxes.bounces.processing import process_report
from mailboxes.constants import SendSource, SendStatus
from mailboxes.models import EmailMessage, Outbound, TrackedLink, TrackingRollup
from mailboxes.outbox import reconcile, sending
from mailboxes.outbox.actions import outbound_mark_sent
from mailboxes.sync.engine import sync_mailbox
from mailboxes.tracking import events
from mailboxes.tracking.classify import Hit

from .inboxes import REP_ADDRESS, imap_mailbox
from .outbox import submit
from .reports import arf, dsn

SINK_WARNING = "ignore:Requiring AUTH while not requiring TLS:UserWarning"
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0 Safari/537.36"
)


@pytest.fixture
def received():
    """Connect a receiver to every mailboxes signal; yield {signal name: [events]}."""
    names = [
        "reply_received",
        "replies_received",
        "bounce_recorded",
        "email_sent",
        "email_failed",
        "email_uncertain",
        "email_opened",
        "email_clicked",
        "complaint_received",
    ]
    seen = {name: [] for name in names}
    receivers = {}
    for name in names:

        def receiver(sender, event, name=name, **kwargs):
            seen[name].append(event)

        receivers[name] = receiver
        getattr(signals, name).connect(receiver)
    yield seen
    for name, receiver in receivers.items():
        getattr(signals, name).disconnect(receiver)


@pytest.fixture
def inbox(owner, dovecot, smtp_sink):
    return imap_mailbox(owner, dovecot, smtp_sink)


def mime(sender, to, subject, *, in_reply_to=None, extra=None, body="Thanks!", later=0):
    msg = MimeMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, to, subject
    msg["Message-ID"] = make_msgid(domain="client.example")
    msg["Date"] = format_datetime(timezone.now() + timedelta(minutes=later))
    if in_reply_to:
        msg["In-Reply-To"] = msg["References"] = in_reply_to
    for name, value in (extra or {}).items():
        msg[name] = value
    msg.set_content(body)
    return bytes(msg)


@pytest.mark.integration
@pytest.mark.filterwarnings(SINK_WARNING)
def test_sent_email_and_its_reply_reach_receivers_after_commit(
    owner, contact, inbox, dovecot, received, django_capture_on_commit_callbacks
):
    outbound = submit(owner, inbox, subject="Our proposal")
    with django_capture_on_commit_callbacks(execute=True):
        assert sending.send_outbound(outbound.pk) == SendStatus.SENT
    [sent] = received["email_sent"]
    assert sent == signals.SendOutcome(
        outbound_id=outbound.pk,
        message_id=outbound.message_id,
        status=SendStatus.SENT,
        source=SendSource.ONE_TO_ONE,
        source_id=None,
        contact_ids=(contact.pk,),
        detail="",
        from_team_inbox=False,
    )

    ours = EmailMessage.objects.get(pk=outbound.message_id)
    dovecot.deliver(
        mime(
            "Olivia <olivia@acme.example>",
            REP_ADDRESS,
            "Re: Our proposal",
            in_reply_to=ours.message_id,
            later=1,
        )
    )
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        sync_mailbox(inbox.pk)
    assert received["reply_received"] == []  # nothing before the commit
    for callback in callbacks:
        callback()
    [reply] = received["reply_received"]
    # The page's replies once more, together, for receivers that query once a page.
    assert received["replies_received"] == [signals.RepliesReceived((reply,))]
    assert reply.replied_to == (ours.pk,)
    assert reply.contact_ids == (contact.pk,)
    assert reply.thread_id == ours.thread_id
    assert reply.mailbox_id == inbox.pk
    assert not reply.is_auto_reply and reply.return_date is None
    ours.refresh_from_db()
    assert ours.reply_count == 1 and ours.first_reply_at is not None


@pytest.mark.integration
def test_an_out_of_office_reply_says_so_with_its_return_date(
    owner, contact, inbox, dovecot, received, django_capture_on_commit_callbacks
):
    back = date.today() + timedelta(days=9)
    dovecot.deliver(
        mime(
            "olivia@acme.example",
            REP_ADDRESS,
            "Out of office: Our proposal",
            extra={"Auto-Submitted": "auto-replied"},
            body=f"I am away and back on {back:%d %B %Y}. For urgent matters call Paul.",
        )
    )
    with django_capture_on_commit_callbacks(execute=True):
        sync_mailbox(inbox.pk)
    [reply] = received["reply_received"]
    assert reply.is_auto_reply and reply.auto_reply_reason == "auto-reply"
    assert reply.return_date == back
    assert reply.replied_to == ()  # no email of ours in its thread: match on the contact
    assert reply.contact_ids == (contact.pk,)
    # An auto-reply is no reply: nothing is counted.
    assert not EmailMessage.objects.filter(reply_count__gt=0).exists()


@pytest.mark.integration
@pytest.mark.filterwarnings(SINK_WARNING)
def test_a_bounce_report_reaches_receivers(
    owner, contact, inbox, received, django_capture_on_commit_callbacks
):
    outbound = submit(owner, inbox)
    with django_capture_on_commit_callbacks(execute=True):
        sending.send_outbound(outbound.pk)
    message = EmailMessage.objects.get(pk=outbound.message_id)
    report = dsn(message.message_id, "olivia@acme.example", "5.1.1", "550 5.1.1 User unknown")
    with django_capture_on_commit_callbacks(execute=True):
        assert process_report(inbox, report).startswith("Hard bounce")
    [bounce] = received["bounce_recorded"]
    assert bounce.message_id == message.pk
    assert bounce.outbound_id == outbound.pk
    assert bounce.address == "olivia@acme.example"
    assert bounce.hard
    assert bounce.source == SendSource.ONE_TO_ONE
    assert bounce.contact_ids == (contact.pk,)


@pytest.mark.integration
@pytest.mark.filterwarnings(SINK_WARNING)
def test_refused_and_uncertain_sends_reach_their_receivers(
    owner, contact, inbox, smtp_sink, received, django_capture_on_commit_callbacks
):
    smtp_sink.refuse("olivia@acme.example", "550 5.1.1 No such user")
    refused = submit(owner, inbox)
    with django_capture_on_commit_callbacks(execute=True):
        assert sending.send_outbound(refused.pk) == SendStatus.FAILED
    [failed] = received["email_failed"]
    assert failed.outbound_id == refused.pk and "No such user" in failed.detail

    # A worker that died mid-send over plain SMTP leaves the email uncertain; the rep can
    # then say it went out.
    orphan = submit(owner, inbox, to=("o.owned@home.example",), subject="Second")
    Outbound.objects.filter(pk=orphan.pk).update(
        status=SendStatus.SENDING, claimed_at=timezone.now() - sending.SEND_LEASE * 2
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert sending.send_outbound(orphan.pk) == SendStatus.UNCERTAIN
    [uncertain] = received["email_uncertain"]
    assert uncertain.outbound_id == orphan.pk and uncertain.detail == reconcile.UNCERTAIN_WORDS
    orphan.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        outbound_mark_sent(orphan)
    assert [e.status for e in received["email_sent"]] == [SendStatus.SENT]
    assert received["email_sent"][0].outbound_id == orphan.pk


@pytest.mark.django_db
def test_opens_and_clicks_reach_receivers_with_their_reason(
    owner, contact, received, django_capture_on_commit_callbacks
):
    from mailboxes.models import Mailbox

    inbox = Mailbox.objects.create(
        kind="personal", provider="imap", email=REP_ADDRESS, owner=owner, config={}
    )
    outbound = submit(
        owner, inbox, html='<p><a href="https://acme.example/offer">Offer</a></p>', track=True
    )
    sent_at = timezone.now() - timedelta(hours=2)
    Outbound.objects.filter(pk=outbound.pk).update(status=SendStatus.SENT, sent_at=sent_at)
    link = TrackedLink.objects.get(message_id=outbound.message_id)
    at = timezone.now() - timedelta(hours=1)
    hits = [
        Hit("open", outbound.message_id, at, ip="203.0.113.9", user_agent=CHROME),
        Hit(
            "click", outbound.message_id, at + timedelta(minutes=1), link.pk, "203.0.113.9", CHROME
        ),
        Hit("open", outbound.message_id, at, ip="17.58.0.1", user_agent="Mozilla/5.0"),
    ]
    with django_capture_on_commit_callbacks(execute=True):
        assert events.write_events(hits) == 3
    reasons = sorted((e.kind, e.reason) for e in received["email_opened"])
    assert reasons == [("open", "human"), ("open", "privacy_proxy")]
    [click] = received["email_clicked"]
    assert (click.reason, click.link_id, click.source) == ("human", link.pk, "one_to_one")
    rollup = TrackingRollup.objects.get(message_id=outbound.message_id)
    assert (rollup.source, rollup.human_opens, rollup.human_clicks) == ("one_to_one", 1, 1)


def test_tracking_is_heard_by_transactional_delivery_events():
    # The flush builds tracking events only when someone listens: transactional's status
    # history does (transactional/events/receivers.py), sequences does not.
    assert signals.email_opened.has_listeners()
    assert signals.email_clicked.has_listeners()


def test_a_spam_complaint_reaches_receivers_after_the_opt_out(
    owner, contact, inbox, received, django_capture_on_commit_callbacks
):
    outbound = submit(owner, inbox)
    with django_capture_on_commit_callbacks(execute=True):
        sending.send_outbound(outbound.pk)
    message = EmailMessage.objects.get(pk=outbound.message_id)
    with django_capture_on_commit_callbacks(execute=True):
        assert process_report(inbox, arf(message.message_id, "olivia@acme.example")).startswith(
            "Spam complaint"
        )
    [complaint] = received["complaint_received"]
    assert (complaint.message_id, complaint.outbound_id) == (message.pk, outbound.pk)
    assert complaint.feedback_type == "abuse"
    assert complaint.addresses == ("olivia@acme.example",)
    assert complaint.source == SendSource.ONE_TO_ONE
    assert complaint.contact_ids == (contact.pk,)
    assert contact.opt_out.source == "spam_report"


def test_a_return_date_given_as_a_function_is_read_once_when_first_asked():
    calls = []

    def read():
        calls.append(1)
        return date(2027, 3, 14)

    fields = dict(
        message_id=1,
        thread_id=2,
        mailbox_id=3,
        contact_ids=(4,),
        replied_to=(),
        received_at=None,
        is_auto_reply=True,
        auto_reply_reason="auto-reply",
    )
    lazy = signals.ReplyReceived(**fields, return_date=read)
    assert calls == []  # sync's page is written without reading it
    assert lazy.return_date == date(2027, 3, 14) and lazy.return_date == date(2027, 3, 14)
    assert calls == [1]
    assert lazy == signals.ReplyReceived(**fields, return_date=date(2027, 3, 14))
    assert signals.ReplyReceived(**fields).return_date is None
