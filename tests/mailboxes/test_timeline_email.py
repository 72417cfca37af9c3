"""An email on a record's timeline: one title per state, counters and actions only where they
mean something, and each open and click listed, people's apart from the machines'."""

import re
from datetime import timedelta
from html import unescape
from zoneinfo import ZoneInfo

import pytest
from django.db import transaction
from django.utils import timezone

from mailboxes.composer.drafts import Draft, email_submit
from mailboxes.constants import Direction, SendStatus
from mailboxes.models import EmailMessage, Outbound, TrackedLink, TrackingKind
from mailboxes.timeline.activity import HITS_SHOWN
from mailboxes.tracking import events
from mailboxes.tracking.classify import Hit
from tests.catalogue import write_catalogue
from tests.mailboxes.inboxes import offline_mailbox
from tests.mailboxes.outbox import submit

SAFARI = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Safari/605.1.15"
)
HTML = '<p>Hello, here is <a href="https://shop.example/pricing">the pricing</a>.</p>'


@pytest.fixture
def inbox(owner):
    return offline_mailbox(owner)


def mark(outbound, status, **fields):
    """Put an email in a state the worker would have left it in."""
    Outbound.objects.filter(pk=outbound.pk).update(status=status, **fields)


def timeline_item(client, user, contact, outbound) -> str:
    """The HTML of the email's item on the contact's timeline."""
    client.force_login(user)
    html = unescape(client.get(f"/records/contacts/{contact.pk}/").content.decode())
    activity_id = EmailMessage.objects.get(pk=outbound.message_id).activity_id
    start = html.index(f'id="activity-{activity_id}"')
    return html[start : html.index('<div id="thread-slot-', start)]


def title(item: str) -> str:
    return re.search(r'<span class="kind">([^<]*)</span>', item).group(1)


def actions(item: str) -> list[str]:
    """The labels of the links and buttons under the email."""
    block = item[item.index('<div class="email-actions">') :]
    return re.findall(r"<(?:a|button)[^>]*>([^<]+)</(?:a|button)>", block)


def test_each_state_has_its_title_and_only_the_actions_that_make_sense(
    client, owner, inbox, contact
):
    later = timezone.now() + timedelta(days=1)
    cases = {
        "scheduled": (submit(owner, inbox, scheduled_at=later, track=True), None),
        "queued": (submit(owner, inbox, track=True), None),
        "failed": (submit(owner, inbox, track=True), SendStatus.FAILED),
        "cancelled": (submit(owner, inbox, track=True), SendStatus.CANCELLED),
        "uncertain": (submit(owner, inbox, track=True), SendStatus.UNCERTAIN),
        "sent": (submit(owner, inbox, track=True), SendStatus.SENT),
    }
    for outbound, status in cases.values():
        if status:
            mark(outbound, status, last_error="Mailbox unavailable", sent_at=None)
    mark(cases["sent"][0], SendStatus.SENT, sent_at=timezone.now())

    expected = {
        "scheduled": ("Email scheduled", ["Send now", "Cancel", "View thread"]),
        "queued": ("Email queued", ["Send now", "Cancel", "View thread"]),
        "failed": ("Email not sent", ["Try again", "View thread", "Delete from CRM"]),
        "cancelled": ("Email cancelled", ["View thread", "Delete from CRM"]),
        "uncertain": (
            "Email may have been sent",
            ["It was sent", "Send again", "View thread", "Delete from CRM"],
        ),
        "sent": (
            "Email sent",
            ["Reply", "Reply all", "Forward", "View thread", "Delete from CRM"],
        ),
    }
    for state, (outbound, _) in cases.items():
        item = timeline_item(client, owner, contact, outbound)
        assert (title(item), actions(item)) == expected[state], state
        # Opens and clicks mean something once the email went out.
        assert ("Not opened" in item) == (state == "sent"), state


def forwarded(owner, inbox) -> Outbound:
    """A forward, from the CRM, of an email the rep sent; queued."""
    message = email_submit(
        Draft(
            sender=owner,
            from_key=f"{inbox.pk}:{inbox.email}",
            to=["olivia@acme.example"],
            subject="Fwd: Our proposal",
            html="<p>See below.</p>",
            forward_of=submit(owner, inbox).message,
            track=False,
        )
    )
    return Outbound.objects.get(message=message)


def test_a_forward_is_titled_email_forwarded_once_it_went_out(client, owner, inbox, contact):
    forward = forwarded(owner, inbox)
    assert title(timeline_item(client, owner, contact, forward)) == "Email queued"
    mark(forward, SendStatus.SENT, sent_at=timezone.now())
    assert title(timeline_item(client, owner, contact, forward)) == "Email forwarded"


def test_the_stored_forward_title_is_shown_in_the_readers_language(
    client, owner, inbox, contact, settings, tmp_path
):
    forward = forwarded(owner, inbox)
    mark(forward, SendStatus.SENT, sent_at=timezone.now())
    assert forward.message.activity.title == "Email forwarded"  # stored as written
    write_catalogue(tmp_path, "it", {"Email forwarded": "Email inoltrata"})
    settings.LOCALE_PATHS = [tmp_path]
    settings.LANGUAGE_CODE = "it"
    assert title(timeline_item(client, owner, contact, forward)) == "Email inoltrata"


def test_a_received_email_is_titled_email_received(client, owner, contact):
    from records import timeline

    activity = timeline.log("email", [contact])
    message = EmailMessage.objects.create(
        thread=EmailMessage._meta.get_field("thread").related_model.objects.create(),
        direction=Direction.INCOMING,
        from_addr="olivia@acme.example",
        subject="Question",
        sent_at=timezone.now(),
        body_parsed=True,
        activity=activity,
    )
    client.force_login(owner)
    html = client.get(f"/records/contacts/{contact.pk}/").content.decode()
    item = html[html.index(f'id="activity-{message.activity_id}"') :]
    assert title(item) == "Email received"


def test_each_open_and_click_is_listed_with_its_time_and_machines_apart_with_why(
    client, owner, inbox, contact
):
    outbound = submit(owner, inbox, html=HTML, track=True)
    sent = timezone.now() - timedelta(days=1)
    mark(outbound, SendStatus.SENT, sent_at=sent)
    link = TrackedLink.objects.get(message_id=outbound.message_id)
    opened, clicked = sent + timedelta(hours=2), sent + timedelta(hours=2, minutes=3)
    with transaction.atomic():
        events.write_events(
            [
                Hit(TrackingKind.OPEN, outbound.message_id, opened, None, "198.51.100.7", SAFARI),
                Hit(
                    TrackingKind.CLICK,
                    outbound.message_id,
                    clicked,
                    link.pk,
                    "198.51.100.7",
                    SAFARI,
                ),
                # Apple Mail Privacy Protection, and a security gateway following the link.
                Hit(
                    TrackingKind.OPEN,
                    outbound.message_id,
                    sent + timedelta(hours=1),
                    None,
                    "17.58.63.1",
                    "Mozilla/5.0",
                ),
                Hit(
                    TrackingKind.CLICK,
                    outbound.message_id,
                    sent + timedelta(minutes=5),
                    link.pk,
                    "203.0.113.9",
                    "Mimecast URL Protect",
                ),
            ]
        )
    owner.time_zone = "Europe/Paris"
    owner.save()
    item = timeline_item(client, owner, contact, outbound)

    assert "Opened 1×" in item and "Clicked 1×" in item
    people = item[item.index('aria-label="By people"') : item.index("Not counted: not a person")]
    machines = item[item.index("Not counted: not a person") :]
    # Newest first, each at its time in the viewer's time zone; a click names its link.
    paris = ZoneInfo("Europe/Paris")
    listed = [re.sub(r"<[^>]+>", "", li).strip() for li in re.findall(r"<li>(.*?)</li>", people)]
    assert listed == [
        f"{clicked.astimezone(paris):%-d %b %Y %H:%M} Clicked https://shop.example/pricing",
        f"{opened.astimezone(paris):%-d %b %Y %H:%M} Opened",
    ]
    reasons = [
        re.sub(r"<[^>]+>", "", li).split(" — ")[-1]
        for li in re.findall(r"<li>(.*?)</li>", machines)
    ]
    assert reasons == [
        "Privacy proxy: Apple Mail Privacy Protection",
        "Security scanner: Mimecast URL Protect",
    ]


def test_only_the_latest_hits_are_listed_and_the_rest_counted(client, owner, inbox, contact):
    outbound = submit(owner, inbox, track=True)
    sent = timezone.now() - timedelta(days=1)
    mark(outbound, SendStatus.SENT, sent_at=sent)
    with transaction.atomic():
        events.write_events(
            [
                Hit(
                    TrackingKind.OPEN,
                    outbound.message_id,
                    sent + timedelta(minutes=10 + i),
                    None,
                    "198.51.100.7",
                    SAFARI,
                )
                for i in range(HITS_SHOWN + 5)
            ]
        )
    item = timeline_item(client, owner, contact, outbound)
    assert item.count("</time> Opened") == HITS_SHOWN
    assert "and 5 earlier hits, not listed" in item
