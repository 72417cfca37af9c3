"""`make run`'s demo inboxes: mail goes to the local catcher and shows at /dev/mail/."""

import smtplib
from email import message_from_bytes, policy

from django.core.management import call_command
from django.db.models import Sum

from crm_mail.catcher import start_catcher
from mailboxes.connecting.connections import provider_for
from mailboxes.models import EmailMessage, Mailbox, Outbound, ReportDaily
from mailboxes.outbox.sending import send_outbounds
from mailboxes.preferences.defaults import default_from, own_addresses
from mailboxes.providers.base import OutgoingMessage
from mailboxes.reports import rollups
from mailboxes.sync.engine import sync_mailbox
from records.demo import load_demo
from records.models import User
from tests.integration.servers import free_port


def demo_account(settings, tmp_path, contacts: int) -> None:
    """The demo account's records, its mail catcher's folder `tmp_path` (not started)."""
    settings.CRM_MAIL_CATCHER_DIR = tmp_path
    settings.CRM_MAIL_CATCHER_PORT = free_port()
    load_demo(contacts=contacts)


def test_demo_inbox_sends_to_the_catcher_and_the_page_shows_it(client, db, settings, tmp_path):
    demo_account(settings, tmp_path, contacts=5)
    call_command("load_demo_inboxes", stdout=open("/dev/null", "w"))
    box = Mailbox.objects.get(email="sam@crm-demo.example")
    controller = start_catcher(tmp_path, port=settings.CRM_MAIL_CATCHER_PORT)
    try:
        assert box.provider == "demo"
        assert default_from(box.owner, own_addresses(box.owner)).mailbox == box
        assert not Mailbox.objects.filter(owner__username="victor").exists()  # View-only
        raw = (
            b"From: sam@crm-demo.example\r\nTo: a@client.example\r\nSubject: Demo hello\r\n"
            b"Message-ID: <demo-1@crm-demo.example>\r\n\r\nHi!\r\n"
        )
        with provider_for(box) as provider:
            provider.verify()
            provider.send(
                OutgoingMessage(box.email, ["a@client.example"], raw, "<demo-1@crm-demo.example>")
            )
    finally:
        controller.stop()
    (caught,) = [p for p in tmp_path.glob("*.eml") if b"Demo hello" in p.read_bytes()]
    # Every user's mail lands in the one catcher: only admins read it.
    client.force_login(User.objects.get(username="admin"))
    listing = client.get("/dev/mail/").content.decode()
    assert "Demo hello" in listing
    assert "Hi!" in client.get(f"/dev/mail/{caught.name}").content.decode()
    assert client.get("/dev/mail/..%2Fsecrets").status_code == 404


def test_the_mail_catcher_is_for_admins_only(client, owner, settings, tmp_path):
    settings.CRM_MAIL_CATCHER_DIR = tmp_path
    (tmp_path / "1.eml").write_bytes(b"From: sam@crm-demo.example\r\nSubject: Private\r\n\r\nx")

    assert client.get("/dev/mail/").status_code == 302  # to the login page
    client.force_login(owner)
    assert client.get("/dev/mail/").status_code == 403
    assert client.get("/dev/mail/1.eml").status_code == 403


def test_the_demo_support_inbox_receives_from_the_catcher_and_replies_into_it(
    db, settings, tmp_path, django_capture_on_commit_callbacks
):

    from mailboxes.conversations import services
    from mailboxes.models import Conversation
    from mailboxes.outbox.sending import send_outbound

    demo_account(settings, tmp_path, contacts=5)
    with django_capture_on_commit_callbacks(execute=True):
        call_command("load_demo_inboxes", stdout=open("/dev/null", "w"))
    support = Mailbox.objects.get(email="support@crm-demo.example")
    assert support.kind == "team" and support.team_inbox.route_to_team.name == "Support"
    conversations = Conversation.objects.filter(mailbox=support)
    assert conversations.count() == 3 and all(c.contact_id for c in conversations)
    caught = sorted(tmp_path.glob("*.eml"))
    written = [message_from_bytes(p.read_bytes(), policy=policy.default) for p in caught]
    dated = [m["Date"].datetime for m in written if m["To"].startswith("Acme Support")]
    # Named as the catcher names what it catches, by the time each was written: in order.
    assert len(dated) == 3 and dated == sorted(dated)
    call_command("load_demo_inboxes", stdout=open("/dev/null", "w"))  # again: nothing new
    assert Mailbox.objects.filter(email="support@crm-demo.example").count() == 1
    assert sorted(tmp_path.glob("*.eml")) == caught

    controller = start_catcher(tmp_path, port=settings.CRM_MAIL_CATCHER_PORT)
    try:
        # A customer writes to the team address (the catcher is their mail's way in): it
        # arrives at the next sync.
        with smtplib.SMTP("127.0.0.1", settings.CRM_MAIL_CATCHER_PORT) as smtp:
            smtp.sendmail(
                "ola@client.example",
                [support.email],
                b"From: Ola <ola@client.example>\r\nTo: support@crm-demo.example\r\n"
                b"Subject: Can you help?\r\nMessage-ID: <ola-1@client.example>\r\n\r\nHi\r\n",
            )
        with django_capture_on_commit_callbacks(execute=True):
            sync_mailbox(support.pk)
        assert conversations.filter(
            subject="Can you help?", counterpart="ola@client.example"
        ).exists()

        # The team's reply goes out through the demo inbox: the catcher has it, not the inbox.
        sofia = User.objects.get(username="sofia")
        damaged = conversations.get(subject="The parcel arrived damaged")
        with django_capture_on_commit_callbacks(execute=True):
            sent = services.reply(
                sofia,
                damaged,
                to=[damaged.counterpart],
                cc=[],
                subject="Re: The parcel arrived damaged",
                text="Replacements are on their way.",
            )
            send_outbound(sent.outbound.pk)
        with django_capture_on_commit_callbacks(execute=True):
            sync_mailbox(support.pk)
    finally:
        controller.stop()
    caught = [
        message_from_bytes(p.read_bytes(), policy=policy.default) for p in tmp_path.glob("*.eml")
    ]
    (reply,) = [m for m in caught if m["Subject"] == "Re: The parcel arrived damaged"]
    assert reply["From"] == "Acme Support <support@crm-demo.example>"
    assert reply["To"] == damaged.counterpart
    assert conversations.all().count() == 4  # the reply is filed on its conversation, not a new one


def test_the_demo_reps_have_sent_email_with_answers_that_the_reports_count(
    db, settings, tmp_path, django_capture_on_commit_callbacks
):
    demo_account(settings, tmp_path, contacts=60)
    with django_capture_on_commit_callbacks(execute=True):
        call_command("load_demo_inboxes", stdout=open("/dev/null", "w"))
    sam, sara = User.objects.get(username="sam"), User.objects.get(username="sara")
    sent = EmailMessage.objects.filter(direction="out", mailbox__owner__in=[sam, sara])
    assert sent.count() == 8
    # Each to a contact its rep owns, on the timeline.
    for message in sent.select_related("mailbox", "activity"):
        (contact,) = message.contacts.all()
        assert message.to_addrs == [contact.email]
        assert contact.owner_id == message.mailbox.owner_id
        assert message.activity is not None

    controller = start_catcher(tmp_path, port=settings.CRM_MAIL_CATCHER_PORT)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            outcomes = send_outbounds(list(Outbound.objects.values_list("pk", flat=True)))
        assert outcomes == {"sent": 8}
        with django_capture_on_commit_callbacks(execute=True):
            for box in Mailbox.objects.filter(owner__in=[sam, sara]):
                sync_mailbox(box.pk)
    finally:
        controller.stop()
    caught = [p.read_bytes() for p in sorted(tmp_path.glob("*.eml"))]
    assert sum(b"Subject: Your quote for the spring order" in raw for raw in caught) == 2
    # The catcher wrote the customers' answers after their emails.
    answers = [n for n, raw in enumerate(caught) if b"Subject: Re: Your quote" in raw]
    emails = [n for n, raw in enumerate(caught) if b"Subject: Your quote" in raw]
    assert len(answers) == 2 and min(answers) > min(emails)

    rollups.refresh_marked()
    totals = ReportDaily.objects.filter(rep_id__in=[sam.pk, sara.pk]).aggregate(
        sent=Sum("sent"), replied=Sum("replied")
    )
    assert totals == {"sent": 8, "replied": 4}
    # Each answer is on its email's thread and its contact's timeline, an address with
    # accents included (the demo has such contacts: UTF-8 headers both ways).
    answered = [m for m in sent if m.reply_count]
    assert len(answered) == 4
    assert any(not m.to_addrs[0].isascii() for m in answered)
    for message in answered:
        (reply,) = EmailMessage.objects.filter(thread=message.thread, direction="in")
        assert reply.from_addr == message.to_addrs[0]
        assert list(reply.contacts.all()) == list(message.contacts.all())

    call_command("load_demo_inboxes", stdout=open("/dev/null", "w"))  # again: nothing new
    assert sent.count() == 8


def test_a_demo_inbox_sends_to_an_address_with_accents_through_smtputf8(db, settings, tmp_path):
    demo_account(settings, tmp_path, contacts=1)
    call_command("load_demo_inboxes", stdout=open("/dev/null", "w"))
    box = Mailbox.objects.get(email="sara@crm-demo.example")
    controller = start_catcher(tmp_path, port=settings.CRM_MAIL_CATCHER_PORT)
    try:
        raw = (
            "From: sara@crm-demo.example\r\nTo: karin.garcía@client.example\r\n"
            "Subject: Accents\r\nMessage-ID: <demo-2@crm-demo.example>\r\n\r\nCiao!\r\n"
        ).encode()
        with provider_for(box) as provider:
            result = provider.send(
                OutgoingMessage(
                    box.email, ["karin.garcía@client.example"], raw, "<demo-2@crm-demo.example>"
                )
            )
    finally:
        controller.stop()
    assert result.accepted_recipients == ["karin.garcía@client.example"]
    assert any(b"Subject: Accents" in p.read_bytes() for p in tmp_path.glob("*.eml"))


def test_the_catcher_answers_only_the_demos_emails_from_a_demo_inbox():
    from mailboxes.demo import answer

    email = (
        b"From: Sam Seller <sam@crm-demo.example>\r\nTo: Ola <ola@client.example>\r\n"
        b"Subject: Your quote for the spring order\r\nMessage-ID: <q-1@crm-demo.example>\r\n"
        b"\r\nHi\r\n"
    )
    reply = message_from_bytes(answer(email), policy=policy.default)
    assert (reply["From"], reply["To"]) == (
        "Ola <ola@client.example>",
        "Sam Seller <sam@crm-demo.example>",
    )
    assert reply["In-Reply-To"] == "<q-1@crm-demo.example>"
    assert reply["Subject"] == "Re: Your quote for the spring order"
    assert reply.get_content().rstrip().endswith("Ola")
    accented = answer(email.replace(b"Ola <ola@", "<karin.garcía12@".encode()))
    assert "From: karin.garcía12@client.example\r\n" in accented.decode()
    assert "\r\n\r\nThanks, this looks good" in accented.decode()
    assert accented.decode().rstrip().endswith("Karin")
    assert answer(email.replace(b"sam@crm-demo.example", b"sam@elsewhere.example")) is None
    assert answer(email.replace(b"spring order", b"autumn order")) is None
    assert answer(b"\x00\xff not mail at all") is None
