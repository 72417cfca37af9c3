"""A data set for the email reports whose every rate is known by hand: people's opens and
clicks, Apple's privacy proxy, a scanner on Microsoft's network (with a browser's user agent),
a pre-fetch on delivery, a bounce, a reply, an opt-out, a logged untracked email, and emails
the reports leave out (retroactively logged, forwarded, logged by hand, failed).

Opens and clicks go through the tracking writer (classified as in production); the other
changes are marked as the receivers mark them; `roll_up()` runs the refresh job's function.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta

from django.db import transaction
from django.utils import timezone

from mailboxes.constants import Direction, LoggedVia, SendSource, SendStatus
from mailboxes.models import EmailMessage, EmailTemplate, EmailThread, Outbound, TrackingRollup
from mailboxes.reports import rollups
from mailboxes.tracking import events
from mailboxes.tracking.classify import Hit
from privacy.models import ContactOptOut
from sequences.models import Sequence, Step
from tests.factories import ContactFactory
from tests.mailboxes.inboxes import offline_mailbox
from transactional.credentials.models import Credential

SAFARI = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Safari/605.1.15"
)
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
)
PERSON_IP = "81.2.69.160"  # a public address in no listed network
APPLE_IP = "17.58.0.1"
MICROSOFT_IP = "40.107.3.9"  # Exchange Online Protection: a scanner, whatever its agent


def day(days_ago: int) -> datetime:
    return datetime.combine(timezone.now().date() - timedelta(days=days_ago), time(9), UTC)


@dataclass
class DataSet:
    first: datetime  # the owner's emails' day
    second: datetime  # the outsider's emails' day
    emails: dict[str, EmailMessage] = field(default_factory=dict)
    sequence: Sequence | None = None
    step: Step | None = None
    template: EmailTemplate | None = None
    token: Credential | None = None


def _email(mailbox, rep, at, *, outbound=True, contact=None, logged_via="", **fields):
    message = EmailMessage.objects.create(
        mailbox=mailbox,
        thread=EmailThread.objects.create(subject="Hello"),
        direction=Direction.OUTGOING,
        from_addr=mailbox.email,
        to_addrs=["someone@acme.example"],
        subject="Hello",
        sent_at=at,
        logged_via=logged_via,
        bounce=fields.pop("bounce", ""),
        reply_count=fields.pop("reply_count", 0),
    )
    if contact is not None:
        message.contacts.add(contact)
    if outbound:
        Outbound.objects.create(
            message=message,
            mailbox=mailbox,
            sender=rep,
            envelope_from=mailbox.email,
            recipients=["someone@acme.example"],
            status=fields.pop("status", SendStatus.SENT),
            next_attempt_at=at,
            sent_at=at,
            privacy_context="one_to_one",
            **fields,
        )
        TrackingRollup.objects.create(
            message=message, source=fields.get("source", SendSource.ONE_TO_ONE)
        )
    return message


def _hits(message, *hits):
    with transaction.atomic():
        events.write_events(
            [Hit(kind, message.pk, at, None, ip, agent) for kind, at, ip, agent in hits]
        )


def build(owner, outsider) -> DataSet:
    data = DataSet(first=day(10), second=day(3))
    t = data.first
    mine = offline_mailbox(owner)
    theirs = offline_mailbox(outsider, email="outsider@acme.example")
    # Connected a month ago: mail logged from before is retroactive.
    type(mine).objects.filter(pk__in=[mine.pk, theirs.pk]).update(created_at=day(30))
    mine.refresh_from_db()
    later = t + timedelta(hours=2)
    e = data.emails
    e["person"] = _email(mine, owner, t, reply_count=1)
    _hits(
        e["person"],
        ("open", later, PERSON_IP, SAFARI),
        ("click", later + timedelta(minutes=1), PERSON_IP, CHROME),
    )
    e["apple"] = _email(mine, owner, t)
    _hits(e["apple"], ("open", later, APPLE_IP, "Mozilla/5.0"))
    e["scanner"] = _email(mine, owner, t)
    _hits(
        e["scanner"],
        ("open", later, MICROSOFT_IP, CHROME),
        ("click", later, MICROSOFT_IP, CHROME),
    )
    e["bounced"] = _email(mine, owner, t, bounce="hard")
    e["prefetch"] = _email(mine, owner, t)
    _hits(e["prefetch"], ("open", t + timedelta(seconds=3), PERSON_IP, SAFARI))
    e["logged"] = _email(mine, owner, t, outbound=False)
    e["retro"] = _email(mine, owner, day(40), outbound=False)
    e["forwarded"] = _email(mine, owner, t, outbound=False, logged_via=LoggedVia.FORWARD)
    e["manual"] = _email(mine, owner, t, outbound=False, logged_via=LoggedVia.MANUAL)
    e["failed"] = _email(mine, owner, t, status=SendStatus.FAILED)
    quitter = ContactFactory(owner=owner, emails=["quitter@acme.example"])
    e["unsubscribed"] = _email(mine, owner, t, contact=quitter)
    _hits(e["unsubscribed"], ("open", later, PERSON_IP, SAFARI))
    ContactOptOut.objects.create(contact=quitter, opted_out_at=later, source="one_click")

    data.sequence = Sequence.objects.create(name="Onboarding", owner=outsider)
    data.step = Step.objects.create(sequence=data.sequence, position=0, delay_days=0)
    data.template = EmailTemplate.objects.create(owner=outsider, name="Welcome", subject="Hi")
    data.token = Credential.objects.create(kind="smtp", name="Shop receipts", lookup_id="r1")
    e["sequence"] = _email(
        theirs,
        outsider,
        data.second,
        source=SendSource.SEQUENCE,
        source_id=data.step.pk,
        template=data.template,
    )
    _hits(e["sequence"], ("open", data.second + timedelta(hours=1), PERSON_IP, SAFARI))
    e["receipt"] = _email(
        theirs,
        outsider,
        data.second,
        source=SendSource.TRANSACTIONAL,
        source_id=data.token.pk,
    )
    # What the receivers mark on a send, a bounce, a reply, a synced page, an opt-out.
    rollups.mark(m.pk for m in e.values())
    roll_up()
    return data


def roll_up() -> int:
    return rollups.refresh_marked()


# Every rate by hand. Admin, people only: sent = person, apple, scanner, bounced, prefetch,
# logged, unsubscribed, sequence, receipt (9); delivered 8; opened by people: person,
# unsubscribed, sequence (3); by anything: + apple, scanner, prefetch (6); clicked by people:
# person (1), by anything: + scanner (2); replied 1; bounced 1 of 9; unsubscribed 1.
EVERYONE = {"sent": 9, "delivered": 8, "opened": 3, "clicked": 1, "replied": 1, "bounced": 1}
EVERYONE_RATES = {
    "open_rate": 37.5,  # 3 / 8: over delivered mail (a peer's 3 / 9 would say 33.3)
    "click_rate": 12.5,
    "reply_rate": 12.5,
    "bounce_rate": 11.1,  # 1 / 9
    "unsubscribe_rate": 12.5,
}
EVERYONE_WITH_BOTS = {"open_rate": 75.0, "click_rate": 25.0}  # 6 / 8, 2 / 8
# The owner's (a rep) and their team's: 7 sent, 6 delivered, 2 opened by people (5 by
# anything), 1 clicked (2), 1 replied, 1 bounced, 1 unsubscribed.
OWNER_RATES = {
    "open_rate": 33.3,
    "click_rate": 16.7,
    "reply_rate": 16.7,
    "bounce_rate": 14.3,
    "unsubscribe_rate": 16.7,
}
# The outsider's: the sequence email (opened) and the receipt.
OUTSIDER_RATES = {
    "open_rate": 50.0,
    "click_rate": 0.0,
    "reply_rate": 0.0,
    "bounce_rate": 0.0,
    "unsubscribe_rate": 0.0,
}
