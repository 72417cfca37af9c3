"""`make run`'s demo inboxes: mail goes to the local catcher and shows at /dev/mail/."""

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
    (caught,) = list(tmp_path.glob("*.eml"))
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
