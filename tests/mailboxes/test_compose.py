"""Submitting an email: checked on the server, built once, queued with its timeline activity."""

import email
from email import policy

import pytest

from mailboxes.composer.drafts import Attachment, ComposeError, Draft, email_submit, from_choices
from mailboxes.connecting.services import mailbox_connect_personal, mailbox_connect_team
from mailboxes.models import EmailMessage, Outbound, TeamInbox
from privacy.services import one_time_basis_record, opt_out_of_all, privacy_settings_update
from records.models import ActivityLink, Ticket
from tests.factories import TicketFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def inbox(owner):
    return mailbox_connect_personal(
        owner,
        provider="imap",
        email="olivia.rep@crm.example",
        secret={"password": "x"},
        config={
            "imap_host": "h",
            "imap_port": 1,
            "imap_security": "none",
            "smtp_host": "h",
            "smtp_port": 1,
            "smtp_security": "none",
        },
    )


def draft(owner, inbox, contact, **changes):
    values = dict(
        sender=owner,
        from_key=f"{inbox.pk}:{inbox.email}",
        to=[contact.email],
        subject="Proposal",
        html="<p>Hello <b>there</b></p>",
        records=[contact],
        track=False,
    )
    values.update(changes)
    return Draft(**values)


def parsed(message):
    return email.message_from_bytes(bytes(message.raw), policy=policy.default)


def test_submit_writes_message_activity_and_queue_row_together(owner, inbox, contact):
    message = email_submit(draft(owner, inbox, contact, bcc=["boss@crm.example"]))
    outbound = Outbound.objects.get(message=message)
    assert outbound.status == "queued" and outbound.recipients[-1] == "boss@crm.example"
    mime = parsed(message)
    assert mime["Message-ID"] == message.message_id
    assert mime["From"] == f"{owner.display_name} <olivia.rep@crm.example>"
    assert "Bcc" not in mime and "boss@crm.example" not in bytes(message.raw).decode()
    # A new email is no reply: it names no other message, nor itself (RFC 5322 3.6.4).
    assert "References" not in mime and "In-Reply-To" not in mime
    assert message.references == ""
    assert ActivityLink.objects.filter(activity=message.activity, record=contact).exists()
    assert "Hello" in message.text_body and "<b>there</b>" in message.html_body


@pytest.mark.parametrize(
    "changes, field, text",
    [
        ({"subject": "Hi\r\nBcc: victim@x.example"}, "subject", "Line breaks"),
        ({"to": ["ok@x.example\nBcc: v@x.example"]}, "to", "Line breaks"),
        ({"to": ["not-an-address"]}, "to", "Not valid email addresses"),
        ({"to": []}, "to", "Add at least one recipient"),
        ({"from_key": "999:someone@else.example"}, "from_key", "your own inboxes"),
        (
            {"attachments": [Attachment("big.bin", "application/octet-stream", b"0" * (21 << 20))]},
            "attachments",
            "20 MB",
        ),
    ],
)
def test_bad_input_is_refused_with_a_clear_message_and_nothing_queued(
    owner, inbox, contact, changes, field, text
):
    with pytest.raises(ComposeError) as exc:
        email_submit(draft(owner, inbox, contact, **changes))
    assert text in " ".join(exc.value.message_dict[field])
    assert not EmailMessage.objects.exists() and not Outbound.objects.exists()


def test_view_only_seat_cannot_send(viewer, contact):
    with pytest.raises(ComposeError):
        email_submit(
            Draft(
                sender=viewer,
                from_key="1:x@x.example",
                to=[contact.email],
                subject="s",
                html="h",
                track=False,
            )
        )


def test_privacy_refusal_stops_the_send_and_a_one_time_basis_allows_it(owner, inbox, contact):
    privacy_settings_update(actor=owner, gdpr_enabled=True)
    with pytest.raises(ComposeError) as exc:
        email_submit(draft(owner, inbox, contact))
    assert "Olivia Owned" in exc.value.message_dict["to"][0]
    assert not Outbound.objects.exists()
    basis = one_time_basis_record(contact, owner, "contract", "Sending the signed contract")
    message = email_submit(draft(owner, inbox, contact, one_time_basis=basis.pk))
    assert Outbound.objects.get(message=message).one_time_basis_id == basis.pk
    with pytest.raises(ComposeError):  # one email only
        email_submit(draft(owner, inbox, contact, one_time_basis=basis.pk))


def test_opted_out_contact_needs_a_one_time_basis_even_with_privacy_off(owner, inbox, contact):
    opt_out_of_all(contact, source="rep", actor=owner)
    with pytest.raises(ComposeError):
        email_submit(draft(owner, inbox, contact))


def test_reply_joins_the_thread_and_references_the_parent(owner, inbox, contact):
    first = email_submit(draft(owner, inbox, contact))
    reply = email_submit(draft(owner, inbox, contact, subject="Re: Proposal", reply_to=first))
    assert reply.thread_id == first.thread_id
    mime = parsed(reply)
    assert mime["In-Reply-To"] == first.message_id
    # The parent's trail and the parent, never the reply's own id.
    assert mime["References"].split() == [first.message_id]
    assert reply.references.split() == [first.message_id]
    answer = email_submit(draft(owner, inbox, contact, subject="Re: Proposal", reply_to=reply))
    assert parsed(answer)["References"].split() == [first.message_id, reply.message_id]


def test_a_reply_to_a_message_without_references_follows_its_in_reply_to(owner, inbox, contact):
    first = email_submit(draft(owner, inbox, contact))
    EmailMessage.objects.filter(pk=first.pk).update(references="", in_reply_to="<root@x.example>")
    first.refresh_from_db()
    reply = email_submit(draft(owner, inbox, contact, subject="Re: Proposal", reply_to=first))
    assert parsed(reply)["References"].split() == ["<root@x.example>", first.message_id]


def test_forward_is_titled_email_forwarded(owner, inbox, contact):
    first = email_submit(draft(owner, inbox, contact))
    forward = email_submit(
        draft(
            owner,
            inbox,
            contact,
            subject="Fwd: Proposal",
            forward_of=first,
            to=["colleague@else.example"],
        )
    )
    assert forward.activity.title == "Email forwarded"


def test_scheduled_email_waits_in_the_queue(owner, inbox, contact):
    from datetime import timedelta

    from django.utils import timezone

    later = timezone.now() + timedelta(hours=3)
    message = email_submit(draft(owner, inbox, contact, scheduled_at=later))
    outbound = message.outbound
    assert outbound.status == "scheduled" and outbound.next_attempt_at == later
    assert message.activity.occurred_at == later


def test_inline_attachments_and_files_are_in_the_mime(owner, inbox, contact):
    png = b"\x89PNG\r\n\x1a\n" + b"0" * 20
    message = email_submit(
        draft(
            owner,
            inbox,
            contact,
            html='<p><img src="cid:logo@x"></p>',
            attachments=[
                Attachment("logo.png", "image/png", png, "logo@x"),
                Attachment("quote.pdf", "application/pdf", b"%PDF"),
            ],
        )
    )
    mime = parsed(message)
    names = [p.get_filename() for p in mime.walk() if p.get_filename()]
    assert names == ["logo.png", "quote.pdf"]
    assert any(p["Content-ID"] == "<logo@x>" for p in mime.walk())


def test_help_desk_address_on_a_contact_creates_a_ticket(owner, admin_user, contact):
    desk = TeamInbox.objects.create(name="Support", kind="help_desk", route_to_user=owner)
    box = mailbox_connect_team(
        desk, provider="gmail", email="help@crm.example", secret={}, config={}
    )
    assert any(c.address == "help@crm.example" for c in from_choices(owner))
    message = email_submit(draft(owner, box, contact, from_key=f"{box.pk}:help@crm.example"))
    ticket = Ticket.objects.get()
    assert ActivityLink.objects.filter(activity=message.activity, record=ticket).exists()
    # Sent from the ticket, the next email joins that ticket's thread.
    again = email_submit(
        draft(owner, box, contact, from_key=f"{box.pk}:help@crm.example", records=[ticket])
    )
    assert again.thread_id == message.thread_id


def test_team_addresses_are_offered_only_to_those_routed_to_them(owner, outsider, red):
    desk = TeamInbox.objects.create(name="Red desk", kind="conversations", route_to_team=red)
    mailbox_connect_team(desk, provider="gmail", email="red@crm.example", secret={}, config={})
    assert [c.address for c in from_choices(outsider)] == ["red@crm.example"]
    assert from_choices(owner) == []


def test_ticket_emails_need_no_legal_basis(owner, inbox, contact):
    privacy_settings_update(actor=owner, gdpr_enabled=True)
    ticket = TicketFactory(owner=owner)
    message = email_submit(draft(owner, inbox, contact, records=[ticket]))
    assert message.outbound.privacy_context == "ticket_reply"


def test_a_hard_bounced_address_is_refused_with_its_reason(owner, inbox, contact):
    from mailboxes.models import BouncedAddress

    BouncedAddress.objects.create(address="olivia@acme.example", reason="550 User unknown")
    with pytest.raises(ComposeError) as exc:
        email_submit(draft(owner, inbox, contact))
    assert "550 User unknown" in exc.value.message_dict["to"][0]
    assert not Outbound.objects.exists()


def test_long_html_lines_are_wrapped_for_smtp(owner, inbox, contact):
    body = "<p>" + " ".join(f'<a href="https://example.com/{i}">link {i}</a>' for i in range(200))
    message = email_submit(draft(owner, inbox, contact, html=body + "</p>", track=True))
    raw = bytes(message.raw)
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    assert b"\n" not in raw.replace(b"\r\n", b"")  # CRLF line endings throughout
    assert "link 199" in parsed(message).get_body(("html",)).get_content()


def test_send_now_moves_a_scheduled_email_to_now_on_the_timeline(owner, inbox, contact):
    from datetime import timedelta

    from django.utils import timezone

    from mailboxes.outbox.actions import outbound_send_now

    message = email_submit(
        draft(owner, inbox, contact, scheduled_at=timezone.now() + timedelta(days=2))
    )
    outbound_send_now(message.outbound)
    link = ActivityLink.objects.get(activity=message.activity)
    assert abs((link.occurred_at - timezone.now()).total_seconds()) < 60
    assert Outbound.objects.get(pk=message.outbound.pk).status == "queued"


def test_an_email_to_several_addresses_of_a_contact_names_that_contact_once(owner, inbox, contact):
    """Each address belongs to one contact: the recipients' contacts are those owners, in any
    case the rep typed them."""
    message = email_submit(
        draft(owner, inbox, contact, to=["OLIVIA@Acme.example"], cc=["o.owned@home.example"])
    )
    assert list(message.contacts.all()) == [contact]
    assert Outbound.objects.get(message=message).contact_ids == [contact.pk]
