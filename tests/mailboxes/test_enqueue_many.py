"""outbox.enqueue.email_enqueue_many: the batch writes exactly what one email at a time writes
(the same rows, the same MIME apart from ids and dates), in a constant number of queries."""

import re
from email import message_from_bytes, policy

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from mailboxes.models import (
    EmailMessage,
    Outbound,
    OutboundAttachment,
    TrackedLink,
    TrackingRollup,
)
from mailboxes.outbox.enqueue import Attachment, SendRefused, email_enqueue, email_enqueue_many
from privacy.constants import OptOutSource
from privacy.models import PrivacyEvent
from privacy.services import opt_out_of_all
from records.models import ActivityLink
from tests.factories import CompanyFactory, ContactFactory

from .test_enqueue import email, inbox  # noqa: F401 (the fixture)

pytestmark = pytest.mark.django_db

LINKS = (
    "<p>Read <a href='https://acme.example/a'>this</a> and <a href='https://b.example/'>b</a></p>"
)
# Pixel and click tokens, one-click unsubscribe tokens (they name the row or the moment) and
# MIME boundaries (random).
_TOKENS = re.compile(r"/t/[oc]/[^\"'\s>]+|/preferences/[^/\s>]+/|boundary=\"[^\"]+\"")


def _emails(inbox, owner, contacts, company, refused, parent=None):  # noqa: F811
    [first, second] = contacts
    return [
        email(inbox, owner, [first], records=[company], html=LINKS),
        email(inbox, owner, [refused]),
        email(
            inbox,
            owner,
            [second],
            log=False,
            track=False,
            attachments=[Attachment("a.txt", "text/plain", b"hello")],
        ),
        email(inbox, owner, [first, second], cc=["x@cc.example"], timeline_title="Both"),
        *(
            [email(inbox, owner, [first], thread=parent.thread, reply_to=parent, html=LINKS)]
            if parent
            else []
        ),
    ]


def _mime(raw: bytes) -> list:
    mime = message_from_bytes(raw, policy=policy.default)
    headers = [
        (k, _TOKENS.sub("", str(v)))
        for k, v in mime.items()
        if k not in ("Date", "Message-ID", "In-Reply-To", "References")
    ]
    parts = [
        (p.get_content_type(), _TOKENS.sub("", str(p.get_content())))
        for p in mime.walk()
        if not p.is_multipart()
    ]
    return [headers, parts]


def _written(message: EmailMessage) -> dict:
    outbound = Outbound.objects.get(message=message)
    links = ActivityLink.objects.filter(activity=message.activity_id)
    return {
        "message": {
            k: v
            for k, v in EmailMessage.objects.filter(pk=message.pk).values()[0].items()
            if k not in ("id", "message_id", "thread_id", "activity_id", "raw", "created_at")
            and k not in ("in_reply_to", "references", "size")
        },
        "thread": message.thread.subject,
        "activity": (
            (message.activity.kind, message.activity.title, message.activity.created_by_id)
            if message.activity_id
            else None
        ),
        "timeline": sorted(links.values_list("record_id", flat=True)),
        "contacts": sorted(message.contacts.values_list("pk", flat=True)),
        "links": list(TrackedLink.objects.filter(message=message).values_list("position", "url")),
        "rollup": list(
            TrackingRollup.objects.filter(message=message).values("source", "source_id")
        ),
        "outbound": {
            k: v
            for k, v in Outbound.objects.filter(pk=outbound.pk).values()[0].items()
            if k not in ("id", "message_id", "created_at", "updated_at", "next_attempt_at")
        },
        "attachments": list(
            OutboundAttachment.objects.filter(outbound=outbound).values_list(
                "filename", "content_type", "size", "content_id"
            )
        ),
        "mime": _mime(bytes(message.raw)),
    }


def test_the_batch_writes_what_one_email_at_a_time_writes(owner, inbox):  # noqa: F811
    contacts = [ContactFactory(owner=owner), ContactFactory(owner=owner)]
    refused = ContactFactory(owner=owner)
    opt_out_of_all(refused, source=OptOutSource.ONE_CLICK)
    company = CompanyFactory(owner=owner)
    audit = PrivacyEvent.objects.count()

    def one_by_one(emails):
        out = []
        for e in emails:
            try:
                out.append(email_enqueue(e))
            except SendRefused as refusal:
                out.append(refusal)
        return out

    parent = email_enqueue(email(inbox, owner, contacts[:1], html=LINKS))
    single = one_by_one(_emails(inbox, owner, contacts, company, refused, parent))
    batch = email_enqueue_many(_emails(inbox, owner, contacts, company, refused, parent))

    assert [type(m) for m in batch] == [type(m) for m in single]
    assert isinstance(batch[1], SendRefused) and batch[1].refusals == single[1].refusals
    for one, many in zip(single, batch, strict=True):
        if isinstance(one, EmailMessage):
            assert _written(many) == _written(one)
            assert many.in_reply_to == one.in_reply_to
            assert many.references == one.references
    # A refused email leaves no audit row behind, as alone (its transaction rolled back).
    assert PrivacyEvent.objects.count() == audit


def test_a_batch_of_50_costs_the_queries_of_a_batch_of_5(postgresql, owner, inbox):  # noqa: F811
    # PostgreSQL: SQLite caps a statement's parameters, so Django splits big INSERTs there.
    company = CompanyFactory(owner=owner)
    refused = ContactFactory(owner=owner)
    opt_out_of_all(refused, source=OptOutSource.ONE_CLICK)

    def queries(n: int) -> int:
        emails = []
        for _ in range(n):
            pair = [ContactFactory(owner=owner), ContactFactory(owner=owner)]
            emails += _emails(inbox, owner, pair, company, refused)
        with CaptureQueriesContext(connection) as ctx:
            email_enqueue_many(emails)
        return len(ctx.captured_queries)

    assert queries(50) == queries(5)
