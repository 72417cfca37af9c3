"""outbox.enqueue.email_enqueue: the one way every sending feature queues mail."""

import pytest

from mailboxes.constants import SendSource, SendStatus
from mailboxes.models import EmailMessage, Mailbox, Outbound, TrackingRollup
from mailboxes.outbox.enqueue import OutgoingEmail, SendRefused, Source, email_enqueue
from privacy.constants import OptOutSource, SenderContext
from privacy.services import opt_out_of_all
from records.models import Activity, ActivityLink
from tests.factories import CompanyFactory, ContactFactory
from transactional.pool.models import SendingPool

from .inboxes import REP_ADDRESS
from .outbox import header

pytestmark = pytest.mark.django_db


@pytest.fixture
def inbox(owner):
    return Mailbox.objects.create(
        kind="personal", provider="imap", email=REP_ADDRESS, owner=owner, config={}
    )


def email(inbox, owner, contacts, **fields):
    values = {
        "mailbox": inbox,
        "from_address": inbox.email if inbox else "",
        "from_name": "Owen Owner",
        "subject": "Step 1: hello",
        "html": "<p>Hi <a href='https://acme.example/'>there</a></p><script>x()</script>",
        "to": [c.email for c in contacts],
        "privacy_context": SenderContext.SEQUENCE,
        "source": Source(SendSource.SEQUENCE, id=42),
        "sender": owner,
        "contacts": list(contacts),
    }
    return OutgoingEmail(**{**values, **fields})


def test_a_sequence_step_is_queued_with_its_source_on_the_outbound_row_and_rollup(
    owner, contact, inbox, django_capture_on_commit_callbacks
):
    company = CompanyFactory(owner=owner)
    with django_capture_on_commit_callbacks() as callbacks:
        message = email_enqueue(email(inbox, owner, [contact], records=[company]))
    outbound = Outbound.objects.get(message=message)
    assert (outbound.source, outbound.source_id) == (SendSource.SEQUENCE, 42)
    assert outbound.status == SendStatus.QUEUED
    assert outbound.contact_ids == [contact.pk]
    assert outbound.privacy_context == SenderContext.SEQUENCE
    rollup = TrackingRollup.objects.get(message=message)
    assert (rollup.source, rollup.source_id) == (SendSource.SEQUENCE, 42)
    # Sanitized whatever the caller did, with a text part, an unsubscribe header and tracking.
    assert "<script>" not in message.html_body
    raw = bytes(message.raw)
    assert header(raw, "List-Unsubscribe")
    assert b"/t/c/" in raw and b"/t/o/" in raw
    # One activity, on the contact and the other record.
    records = set(ActivityLink.objects.filter(activity=message.activity).values_list("record_id"))
    assert records == {(contact.pk,), (company.pk,)}
    assert message.activity.kind == "email"
    assert len(callbacks) == 1  # the send job, queued on commit


def test_an_email_not_to_be_logged_is_queued_tracked_and_on_no_timeline(
    owner, contact, inbox, django_capture_on_commit_callbacks
):
    company = CompanyFactory(owner=owner)
    with django_capture_on_commit_callbacks() as callbacks:
        message = email_enqueue(email(inbox, owner, [contact], records=[company], log=False))
    assert message.activity is None and not Activity.objects.exists()
    assert Outbound.objects.get(message=message).status == SendStatus.QUEUED
    assert list(message.contacts.all()) == [contact]  # replies and bounces still find them
    assert b"/t/o/" in bytes(message.raw)  # tracking is a choice of its own
    assert len(callbacks) == 1


def test_a_refusal_writes_nothing_and_names_the_contact(owner, contact, inbox):
    opt_out_of_all(contact, source=OptOutSource.ONE_CLICK)
    other = ContactFactory(owner=owner, emails=["paul@partner.example"])
    with pytest.raises(SendRefused) as refused:
        email_enqueue(email(inbox, owner, [contact, other]))
    assert len(refused.value.refusals) == 1
    assert refused.value.refusals[0].startswith(contact.name)
    assert not EmailMessage.objects.exists()
    assert not Outbound.objects.exists()
    assert not Activity.objects.exists()


def test_transactional_mail_is_exempt_and_carries_no_unsubscribe_link(owner, contact, inbox):
    # Sent through transactional's sending pool (its transport), never through an inbox.
    SendingPool(
        pk=1, enabled=True, host="relay.example", from_address="receipts@acme.example"
    ).save()
    opt_out_of_all(contact, source=OptOutSource.ONE_CLICK)
    transactional = {
        "privacy_context": SenderContext.TRANSACTIONAL,
        "source": Source(SendSource.TRANSACTIONAL, id=9),
        "track": False,
    }
    message = email_enqueue(
        email(None, owner, [contact], **transactional, from_address="receipts@acme.example")
    )
    outbound = Outbound.objects.get(message=message)
    assert (outbound.source, outbound.source_id) == (SendSource.TRANSACTIONAL, 9)
    assert (outbound.mailbox, outbound.envelope_from) == (None, "receipts@acme.example")
    assert header(bytes(message.raw), "List-Unsubscribe") is None
    assert not TrackingRollup.objects.filter(message=message).exists()
    with pytest.raises(ValueError, match="not an inbox"):
        email_enqueue(email(inbox, owner, [contact], **transactional))


def test_the_composer_records_the_template_it_started_from(owner, contact, inbox):
    from mailboxes.composer.drafts import Draft, email_submit
    from mailboxes.models import EmailTemplate

    template = EmailTemplate.objects.create(
        owner=owner, name="Intro", subject="Hi", body="<p>x</p>"
    )
    message = email_submit(
        Draft(
            sender=owner,
            from_key=f"{inbox.pk}:{inbox.email}",
            to=[contact.email],
            subject="Hi",
            html="<p>x</p>",
            template_id=template.pk,
        )
    )
    outbound = Outbound.objects.get(message=message)
    assert (outbound.source, outbound.source_id) == (SendSource.ONE_TO_ONE, None)
    assert outbound.template_id == template.pk
