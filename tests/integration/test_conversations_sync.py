"""A team inbox's mail reaching the conversations inbox through a real sync from the local
Gmail API fake (wire format, history feed): a new person's email opens a conversation with a
new contact, their reply joins it, and a second person answering the same email opens their
own; a reply leaves through the Gmail API from the team address, in the thread."""

from email import message_from_bytes, policy
from email.message import EmailMessage as MimeMessage
from email.utils import make_msgid

import pytest

from mailboxes.connecting.services import mailbox_connect_team
from mailboxes.constants import SendStatus
from mailboxes.conversations import services
from mailboxes.models import Conversation, ConversationMessage, EmailMessage, Mailbox, TeamInbox
from mailboxes.outbox.sending import send_outbound
from mailboxes.sync.engine import sync_mailbox
from records.models import Contact
from tests.mailboxes.inboxes import imap_mailbox
from tests.mailboxes.outbox import submit

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db,
    # The sink requires AUTH over plain text on loopback; aiosmtpd warns about that.
    pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning"),
]
TEAM = "support@example.test"


def mime(sender, to, subject, in_reply_to=None):
    msg = MimeMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, to, subject
    msg["Message-ID"] = make_msgid(domain="client.example")
    if in_reply_to:
        msg["In-Reply-To"] = msg["References"] = in_reply_to
    msg.set_content(f"About {subject}")
    return bytes(msg)


@pytest.fixture
def team_gmail(fake_google, blue):
    inbox = TeamInbox.objects.create(name="Support", kind="conversations", route_to_team=blue)
    return mailbox_connect_team(
        inbox, provider="gmail", email=TEAM, secret=fake_google.inbox_secret(TEAM), config={}
    )


def test_gmail_mail_of_a_team_inbox_becomes_conversations(
    fake_google, team_gmail, django_capture_on_commit_callbacks
):
    def sync():
        with django_capture_on_commit_callbacks(execute=True):
            sync_mailbox(team_gmail.pk)

    fake_google.add_message(mime("Lea Roy <lea@client.example>", TEAM, "Login fails"), address=TEAM)
    sync()
    conversation = Conversation.objects.get()
    assert conversation.counterpart == "lea@client.example"
    assert conversation.counterpart_name == "Lea Roy"
    assert conversation.contact == Contact.objects.get(emails__address="lea@client.example")
    first = EmailMessage.objects.get()
    fake_google.add_message(
        mime("lea@client.example", TEAM, "Re: Login fails", in_reply_to=first.message_id),
        address=TEAM,
    )
    sync()
    sync()  # nothing new: nothing filed twice
    assert Conversation.objects.count() == 1
    assert conversation.links.count() == 2

    # The team's own email to two people (sent from Gmail itself), answered by both.
    sent = mime(TEAM, "lea@client.example, max@other.example", "Maintenance tonight")
    fake_google.add_message(sent, labels=("SENT",), address=TEAM)
    sync()
    ours = EmailMessage.objects.get(subject="Maintenance tonight")
    for person in ("lea@client.example", "max@other.example"):
        fake_google.add_message(
            mime(person, TEAM, "Re: Maintenance tonight", in_reply_to=ours.message_id),
            address=TEAM,
        )
    sync()
    answers = Conversation.objects.filter(subject="Maintenance tonight")
    assert sorted(answers.values_list("counterpart", flat=True)) == [
        "lea@client.example",
        "max@other.example",
    ]
    for answer in answers:
        assert answer.links.filter(message=ours).exists() and answer.awaiting_since


def test_a_reply_leaves_through_gmail_from_the_team_address_in_the_thread(
    fake_google, team_gmail, owner, smtp_sink, django_capture_on_commit_callbacks
):
    # Gmail hands what it sends to the recipient's server: here an aiosmtpd sink.
    fake_google.onward = (smtp_sink.host, smtp_sink.port, smtp_sink.user, smtp_sink.password)
    fake_google.add_message(mime("Lea Roy <lea@client.example>", TEAM, "Login fails"), address=TEAM)
    with django_capture_on_commit_callbacks(execute=True):
        sync_mailbox(team_gmail.pk)
    conversation = Conversation.objects.get()
    first = EmailMessage.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        reply = services.reply(
            owner,
            conversation,
            to=["lea@client.example"],
            cc=[],
            subject="Re: Login fails",
            text="Reset link on its way.",
        )
        assert send_outbound(reply.outbound.pk) == SendStatus.SENT
    (sent,) = fake_google.outbox
    assert sent.recipients == ["lea@client.example"]
    (landed,) = smtp_sink.messages
    assert landed.mail_from == TEAM and landed.rcpt_tos == ["lea@client.example"]
    out = message_from_bytes(landed.data, policy=policy.default)
    assert out["From"] == f"Support <{TEAM}>"
    assert out["In-Reply-To"] == first.message_id
    assert out["References"] == first.message_id
    assert "Reset link on its way." in out.get_body(("html",)).get_content()
    conversation.refresh_from_db()
    assert conversation.awaiting_since is None and conversation.links.count() == 2


def test_an_office365_team_inbox_connected_through_graph_files_its_mail(
    client, admin_user, blue, fake_microsoft, django_capture_on_commit_callbacks
):
    from tests.mailboxes.test_views import MICROSOFT_START, callback_path, consent

    box = fake_microsoft.add_user("help@contoso.test", "Help desk")
    inbox = TeamInbox.objects.create(name="Contoso help", kind="help_desk", route_to_team=blue)
    client.force_login(admin_user)
    start = client.get(MICROSOFT_START, {"email": "help@contoso.test", "team_inbox": inbox.pk})
    client.get(callback_path(consent(start["Location"], verify=str(fake_microsoft.ca_path))))
    mailbox = Mailbox.objects.get(team_inbox=inbox)
    assert (mailbox.kind, mailbox.provider) == ("team", "office365")

    box.deliver(mime("Max Moe <max@other.example>", "help@contoso.test", "Printer jam"))
    with django_capture_on_commit_callbacks(execute=True):
        sync_mailbox(mailbox.pk)
    conversation = Conversation.objects.get()
    assert (conversation.counterpart, conversation.counterpart_name) == (
        "max@other.example",
        "Max Moe",
    )
    assert conversation.ticket is not None and conversation.ticket.name == "Printer jam"


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
def test_the_sending_worker_files_a_team_inbox_email_written_on_a_record_not_a_reps_own(
    fake_google, team_gmail, owner, dovecot, smtp_sink, django_capture_on_commit_callbacks
):
    # Both written in a record's composer and sent for real; the worker's announcement says
    # which left from a team inbox's address (SendOutcome.from_team_inbox).
    fake_google.onward = (smtp_sink.host, smtp_sink.port, smtp_sink.user, smtp_sink.password)
    own = imap_mailbox(owner, dovecot, smtp_sink)
    sent = []
    for mailbox in (team_gmail, own):
        with django_capture_on_commit_callbacks(execute=True):
            outbound = submit(owner, mailbox, to=("lea@client.example",))
        with django_capture_on_commit_callbacks(execute=True):
            assert send_outbound(outbound.pk) == SendStatus.SENT
        sent.append(outbound.message_id)
    link = ConversationMessage.objects.get(message_id=sent[0])
    assert link.conversation.mailbox == team_gmail
    assert link.conversation.counterpart == "lea@client.example"
    assert not ConversationMessage.objects.filter(message_id=sent[1]).exists()
    assert len(smtp_sink.messages) == 2
