"""Sync of an IMAP inbox against a real Dovecot: what is logged, where, and never twice."""

from email.message import EmailMessage as MimeMessage
from email.utils import format_datetime, make_msgid

import pytest
from django.utils import timezone

from mailboxes.connecting.connections import provider_for
from mailboxes.models import EmailMessage, FolderSync, Mailbox, Tombstone
from mailboxes.sync.engine import reconcile_mailbox, sync_mailbox
from mailboxes.sync.identity import stable_message_id, uid_stand_in_id
from records.access import visible_to
from records.models import ActivityLink, Contact, Record
from records.services import association_create
from tests.factories import CompanyFactory, ContactFactory
from tests.mailboxes.inboxes import imap_mailbox

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

ME = "rep@crm.example"


def mime(sender, to, subject="Hello", *, message_id=None, in_reply_to=None, extra=None):
    msg = MimeMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, to, subject
    msg["Message-ID"] = message_id or make_msgid(domain="test.example")
    msg["Date"] = format_datetime(timezone.now())
    if in_reply_to:
        msg["In-Reply-To"] = msg["References"] = in_reply_to
    for name, value in (extra or {}).items():
        msg[name] = value
    msg.set_content(f"Body of {subject}")
    return bytes(msg)


@pytest.fixture
def inbox(dovecot, owner):
    return imap_mailbox(owner, dovecot, email=ME)


def test_mail_with_contacts_is_logged_on_contact_and_associated_records(dovecot, inbox, owner):
    contact = ContactFactory(owner=owner, emails=["anna@client.example"])
    company = CompanyFactory(owner=owner)
    association_create(contact, company)
    dovecot.deliver(mime("Anna <anna@client.example>", ME, "Quote please"))
    dovecot.deliver(mime("news@spam.example", ME, "Newsletter"))
    dovecot.deliver(mime(ME, "anna@client.example", "Your quote"), folder="Sent")

    assert sync_mailbox(inbox.pk) == 2

    logged = EmailMessage.objects.order_by("subject")
    assert [(m.subject, m.direction, m.match_reason) for m in logged] == [
        ("Quote please", "in", "address"),
        ("Your quote", "out", "address"),
    ]
    for record in (contact, company):
        assert ActivityLink.objects.filter(record=record).count() == 2
    inbox_state = FolderSync.objects.get(mailbox=inbox, role="inbox")
    assert (inbox_state.seen, inbox_state.logged, inbox_state.skipped) == (2, 1, 1)
    assert inbox_state.skip_reasons == {"no CRM contact": 1}
    assert inbox_state.last_success_at is not None
    assert not EmailMessage.objects.filter(subject="Newsletter").exists()


def test_mail_from_an_address_is_logged_only_on_the_contact_that_owns_it(
    client, dovecot, outsider, contact
):
    """A rep of another team cannot make a contact of their own with the customer's address
    (tests/records/test_one_contact_per_address.py), so the customer's email to them is
    logged on the one contact that has the address, in any case, and on no record of theirs."""
    box = imap_mailbox(outsider, dovecot, email="mallory@red.example")
    client.force_login(outsider)
    client.post(
        "/records/contacts/new/",
        {"first_name": "Mal", "primary_email": "olivia@acme.example", "lifecycle_stage": "lead"},
    )
    assert list(Contact.objects.all()) == [contact]
    dovecot.deliver(mime("Olivia <OLIVIA@Acme.example>", "mallory@red.example", "Our order"))

    assert sync_mailbox(box.pk) == 1

    message = EmailMessage.objects.get()
    assert list(message.contacts.all()) == [contact]
    assert list(ActivityLink.objects.values_list("record_id", flat=True)) == [contact.pk]
    assert not visible_to(outsider, Record.objects.filter(activity_links__isnull=False)).exists()


def test_a_reply_joins_the_thread_of_the_email_it_answers(dovecot, inbox, owner):
    contact = ContactFactory(owner=owner, emails=["bob@client.example"])
    first_id = make_msgid(domain="test.example")
    dovecot.deliver(mime(ME, "bob@client.example", "Plan", message_id=first_id), folder="Sent")
    sync_mailbox(inbox.pk)
    # Bob answers from another address the CRM doesn't know: the thread headers match it.
    dovecot.deliver(mime("bob@home.example", ME, "Re: Plan", in_reply_to=first_id))
    sync_mailbox(inbox.pk)
    reply = EmailMessage.objects.get(subject="Re: Plan")
    assert reply.match_reason == "thread"
    assert reply.thread_id == EmailMessage.objects.get(message_id=first_id).thread_id
    assert ActivityLink.objects.filter(record=contact).count() == 2


def test_sync_is_idempotent_and_survives_a_uidvalidity_change(dovecot, inbox, owner):
    ContactFactory(owner=owner, emails=["cara@client.example"])
    for i in range(3):
        dovecot.deliver(mime("cara@client.example", ME, f"Note {i}"))
    sync_mailbox(inbox.pk)
    sync_mailbox(inbox.pk)
    dovecot.bump_uidvalidity("INBOX")
    dovecot.deliver(mime("cara@client.example", ME, "After the restore"))
    sync_mailbox(inbox.pk)
    assert EmailMessage.objects.count() == 4
    assert ActivityLink.objects.count() == 4
    state = FolderSync.objects.get(mailbox=inbox, role="inbox")
    assert state.skip_reasons.get("already logged") == 3


def without_message_id(raw: bytes) -> bytes:
    head, body = raw.split(b"\n\n", 1)
    lines = [line for line in head.split(b"\n") if not line.lower().startswith(b"message-id:")]
    return b"\n".join(lines) + b"\n\n" + body


def uids(dovecot) -> dict[tuple[bytes, int], int]:
    """Each message's UID by its Subject field and size (unique among the test's messages)."""
    subject = "BODY[HEADER.FIELDS (SUBJECT)]"
    with dovecot.imap() as client:
        client.select_folder("INBOX", readonly=True)
        fetched = client.fetch(
            client.search(["ALL"]), [f"{subject[:4]}.PEEK{subject[4:]}", "RFC822.SIZE"]
        )
    return {(data[subject.encode()], data[b"RFC822.SIZE"]): uid for uid, data in fetched.items()}


def test_a_folder_renumbered_by_the_server_is_read_again_without_logging_anything_twice(
    dovecot, inbox, owner
):
    """Messages without a Message-ID are known by what they are, not by their UID."""
    ContactFactory(owner=owner, emails=["cara@client.example"])
    for i in range(20):
        raw = mime("cara@client.example", ME, f"Note {i}")
        dovecot.deliver(raw if i % 2 else without_message_id(raw))
    # Alike but for their bodies (same sender, subject and Date): two messages, not one.
    twin = mime("cara@client.example", ME, "Twin")
    dovecot.deliver(without_message_id(twin))
    dovecot.deliver(without_message_id(twin.replace(b"Body of Twin", b"Body of the other Twin")))
    # No Date either: its date is the arrival time, which a restore need not keep.
    dovecot.deliver(
        without_message_id(mime("cara@client.example", ME, "Undated")).replace(
            b"Date:", b"X-Old-Date:"
        )
    )
    assert sync_mailbox(inbox.pk) == 23
    before = uids(dovecot)
    assert len(before) == 23

    dovecot.bump_uidvalidity("INBOX", reorder=True)
    dovecot.deliver(without_message_id(mime("cara@client.example", ME, "After the restore")))
    sync_mailbox(inbox.pk)

    after = uids(dovecot)  # the same messages, every one with another UID
    assert all(after[key] != uid for key, uid in before.items())
    assert EmailMessage.objects.count() == 24
    assert EmailMessage.objects.values("message_id").distinct().count() == 24
    assert ActivityLink.objects.count() == 24
    assert EmailMessage.objects.filter(subject="Twin").count() == 2
    state = FolderSync.objects.get(mailbox=inbox, role="inbox")
    assert state.skip_reasons.get("already logged") == 23


def test_emails_stored_under_the_old_uid_stand_ins_are_found_and_renamed(dovecot, inbox, owner):
    """Rows logged before stand-ins were made from the message carry one made from the UID: a
    full re-read finds them by it and gives them the stable one, which survives renumbering."""
    ContactFactory(owner=owner, emails=["cara@client.example"])
    for i in range(4):
        dovecot.deliver(without_message_id(mime("cara@client.example", ME, f"Old {i}")))
    sync_mailbox(inbox.pk)
    with provider_for(inbox) as provider:
        headers = provider.changes("INBOX", "", 100).headers
    for header in headers:  # as the earlier version stored them
        EmailMessage.objects.filter(provider_ref=header.ref).update(
            message_id=uid_stand_in_id(header, inbox)
        )
    deleted = EmailMessage.objects.get(subject="Old 0")
    Tombstone.objects.create(mailbox=inbox, message_id=deleted.message_id, deleted_by=owner)
    deleted.activity.delete()

    assert reconcile_mailbox(inbox.pk) == 0  # nothing twice, the deleted one not again
    stored = set(EmailMessage.objects.values_list("message_id", flat=True))
    stored |= set(Tombstone.objects.values_list("message_id", flat=True))
    assert stored == {stable_message_id(header, inbox) for header in headers}

    dovecot.bump_uidvalidity("INBOX", reorder=True)
    sync_mailbox(inbox.pk)
    assert EmailMessage.objects.count() == ActivityLink.objects.count() == 3


def test_a_message_deleted_in_the_crm_is_not_imported_again(dovecot, inbox, owner):
    ContactFactory(owner=owner, emails=["dan@client.example"])
    message_id = make_msgid(domain="test.example")
    dovecot.deliver(mime("dan@client.example", ME, "Forget me", message_id=message_id))
    sync_mailbox(inbox.pk)
    logged = EmailMessage.objects.get()
    Tombstone.objects.create(mailbox=inbox, message_id=logged.message_id, deleted_by=owner)
    logged.activity.delete()
    dovecot.bump_uidvalidity("INBOX")
    sync_mailbox(inbox.pk)
    assert not EmailMessage.objects.exists()


def test_auto_replies_are_marked(dovecot, inbox, owner):
    ContactFactory(owner=owner, emails=["eve@client.example"])
    dovecot.deliver(
        mime("eve@client.example", ME, "Out of office", extra={"Auto-Submitted": "auto-replied"})
    )
    sync_mailbox(inbox.pk)
    assert EmailMessage.objects.get().is_auto_reply


def test_wrong_password_marks_the_inbox_needs_reconnect(dovecot, inbox):
    Mailbox.objects.filter(pk=inbox.pk).update()
    inbox.secret = {"password": "wrong"}
    inbox.save()
    sync_mailbox(inbox.pk)
    inbox.refresh_from_db()
    assert inbox.status == "needs_reconnect" and inbox.status_reason


def dsn(original_id: str, recipient: str) -> bytes:
    return (
        "From: Mail Delivery System <MAILER-DAEMON@mx.client.example>\r\n"
        f"To: {ME}\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        "Message-ID: <dsn-1@mx.client.example>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\nThe mail could not be delivered.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.client.example\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 User unknown\r\n\r\n"
        "--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"From: {ME}\r\nTo: {recipient}\r\nMessage-ID: {original_id}\r\nSubject: Plan\r\n"
        "\r\n--B--\r\n"
    ).encode()


def test_a_bounce_in_the_inbox_marks_the_sent_email_and_flags_the_address(dovecot, inbox, owner):
    from mailboxes.models import BouncedAddress

    contact = ContactFactory(owner=owner, emails=["gone@client.example"])
    first_id = make_msgid(domain="test.example")
    dovecot.deliver(mime(ME, "gone@client.example", "Plan", message_id=first_id), folder="Sent")
    sync_mailbox(inbox.pk)
    dovecot.deliver(dsn(first_id, "gone@client.example"))
    sync_mailbox(inbox.pk)
    sent = EmailMessage.objects.get(message_id=first_id)
    assert sent.bounce == "hard" and "unknown" in sent.bounce_reason.lower()
    assert BouncedAddress.objects.filter(address="gone@client.example").exists()
    assert EmailMessage.objects.count() == 1  # the report itself is not logged
    state = FolderSync.objects.get(mailbox=inbox, role="inbox")
    assert state.skip_reasons == {"delivery or spam report": 1}
    assert ActivityLink.objects.filter(record=contact).count() == 1
