"""`make run`'s demo inboxes: mail goes to the local catcher and shows at /dev/mail/."""

import smtplib

from django.core.management import call_command

from crm_mail.catcher import start_catcher
from mailboxes.connecting.connections import provider_for
from mailboxes.models import Mailbox
from mailboxes.preferences.defaults import default_from, own_addresses
from mailboxes.providers.base import OutgoingMessage
from records.demo import load_demo
from records.models import User
from tests.integration.servers import free_port


def test_demo_inbox_sends_to_the_catcher_and_the_page_shows_it(client, db, settings, tmp_path):
    settings.CRM_MAIL_CATCHER_DIR = tmp_path
    settings.CRM_MAIL_CATCHER_PORT = free_port()
    controller = start_catcher(tmp_path, port=settings.CRM_MAIL_CATCHER_PORT)
    try:
        load_demo(contacts=5)
        call_command("load_demo_inboxes", stdout=open("/dev/null", "w"))
        box = Mailbox.objects.get(email="sam@crm-demo.example")
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
    from email import message_from_bytes, policy

    from mailboxes.conversations import services
    from mailboxes.models import Conversation
    from mailboxes.outbox.sending import send_outbound
    from mailboxes.sync.engine import sync_mailbox

    settings.CRM_MAIL_CATCHER_DIR = tmp_path
    settings.CRM_MAIL_CATCHER_PORT = free_port()
    load_demo(contacts=5)
    with django_capture_on_commit_callbacks(execute=True):
        call_command("load_demo_inboxes", stdout=open("/dev/null", "w"))
    support = Mailbox.objects.get(email="support@crm-demo.example")
    assert support.kind == "team" and support.team_inbox.route_to_team.name == "Support"
    conversations = Conversation.objects.filter(mailbox=support)
    assert conversations.count() == 3 and all(c.contact_id for c in conversations)
    call_command("load_demo_inboxes", stdout=open("/dev/null", "w"))  # again: nothing new
    assert Mailbox.objects.filter(email="support@crm-demo.example").count() == 1
    assert len(list(tmp_path.glob("*.eml"))) == 3

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
