"""The conversations inbox's model: a team inbox's synced and sent mail filed into
conversations through mailboxes' signals (mailboxes/conversations/filing.py). Pages are
decided and written by sync's own code (`decide`, `write_page`) from headers as an adapter
gives them."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from mailboxes import signals
from mailboxes.conversations import filing, receivers
from mailboxes.models import (
    Conversation,
    ConversationMessage,
    EmailMessage,
    TeamInbox,
)
from records.models import Contact
from tests.factories import ContactFactory
from tests.mailboxes.conversations import TEAM, announce_sent, header
from tests.mailboxes.inboxes import offline_mailbox
from tests.mailboxes.outbox import submit

pytestmark = pytest.mark.django_db


def test_incoming_mail_from_an_unknown_person_opens_a_conversation_with_a_new_contact(
    team_desk, sync_page, blue
):
    [message] = sync_page(team_desk, header("ana@client.example", name="Ana Lima"))
    conversation = Conversation.objects.get()
    assert conversation.counterpart == "ana@client.example"
    assert conversation.counterpart_name == "Ana Lima"
    assert conversation.subject == "Order 1234"
    assert conversation.status == "open" and conversation.awaiting_since == message.sent_at
    assert conversation.assignee_team == blue and conversation.assignee is None
    assert conversation.contact == Contact.objects.get(emails__address="ana@client.example")
    assert list(ConversationMessage.objects.values_list("message_id", flat=True)) == [message.pk]


def test_a_reply_follows_the_thread_headers_and_answering_stops_the_wait(team_desk, sync_page):
    [first] = sync_page(team_desk, header("ana@client.example"))
    [answer] = sync_page(
        team_desk, header(TEAM, ["ana@client.example"], parent=first.message_id, minutes=30)
    )
    conversation = Conversation.objects.get()
    assert conversation.awaiting_since is None
    assert conversation.first_response_at == answer.sent_at
    [again] = sync_page(
        team_desk, header("ana@client.example", parent=answer.message_id, minutes=60)
    )
    conversation.refresh_from_db()
    assert Conversation.objects.count() == 1
    assert conversation.awaiting_since == again.sent_at
    assert conversation.last_activity_at == again.sent_at
    assert conversation.first_response_at == answer.sent_at  # the first one stays


def test_separate_people_replying_to_one_outgoing_email_are_separate_conversations(
    team_desk, sync_page, owner
):
    ContactFactory(owner=owner, emails=["ana@client.example"])
    ContactFactory(owner=owner, emails=["bo@other.example"])
    [sent] = sync_page(
        team_desk, header(TEAM, ["ana@client.example", "bo@other.example"]), folder="Sent"
    )
    ana, bo = sync_page(
        team_desk,
        header("ana@client.example", parent=sent.message_id, minutes=5),
        header("bo@other.example", parent=sent.message_id, minutes=6),
    )
    by_person = {c.counterpart: c for c in Conversation.objects.all()}
    assert set(by_person) == {"ana@client.example", "bo@other.example"}
    for person, reply in (("ana@client.example", ana), ("bo@other.example", bo)):
        shown = ConversationMessage.objects.filter(conversation=by_person[person])
        # Each shows the email they answer, then their reply.
        assert set(shown.values_list("message_id", flat=True)) == {sent.pk, reply.pk}
    # A colleague copied into Ana's conversation stays in it.
    [cc] = sync_page(team_desk, header("carl@client.example", parent=ana.message_id, minutes=9))
    assert (
        ConversationMessage.objects.get(message=cc).conversation == by_person["ana@client.example"]
    )
    assert Conversation.objects.count() == 2


def test_new_mail_reopens_a_closed_conversation_and_wakes_a_snoozed_one(team_desk, sync_page):
    [first] = sync_page(team_desk, header("ana@client.example"))
    Conversation.objects.update(status="closed", snoozed_until=timezone.now() + timedelta(days=1))
    sync_page(team_desk, header("ana@client.example", parent=first.message_id, minutes=3))
    conversation = Conversation.objects.get()
    assert conversation.status == "open" and conversation.snoozed_until is None


def test_personal_inbox_mail_makes_no_conversation(owner, sync_page, contact):
    inbox = offline_mailbox(owner, email="rep@crm.example")
    sync_page(inbox, header("olivia@acme.example", to=("rep@crm.example",)))
    assert EmailMessage.objects.count() == 1 and not Conversation.objects.exists()


def test_backfill_builds_conversations_of_mail_synced_before_and_is_safe_to_rerun(
    team_desk, sync_page
):
    signals.messages_synced.disconnect(dispatch_uid="conversations.synced")
    try:
        [first] = sync_page(team_desk, header("ana@client.example"))
        sync_page(team_desk, header("bo@other.example", subject="Invoice"))
        sync_page(
            team_desk, header(TEAM, ["ana@client.example"], parent=first.message_id, minutes=4)
        )
    finally:
        receivers.connect()
    assert not Conversation.objects.exists()
    call_command("conversations_backfill")
    assert Conversation.objects.count() == 2
    ana = Conversation.objects.get(counterpart="ana@client.example")
    assert ana.links.count() == 2 and ana.awaiting_since is None
    assert filing.backfill() == 0  # nothing filed twice
    assert ConversationMessage.objects.count() == 3


def test_email_from_the_team_address_written_on_a_record_is_filed_when_sent(
    team_desk, sync_page, owner, django_capture_on_commit_callbacks
):
    [first] = sync_page(team_desk, header("ana@client.example"))
    ana = Contact.objects.get(emails__address="ana@client.example")
    with django_capture_on_commit_callbacks(execute=True):
        outbound = submit(
            owner, team_desk, to=("ana@client.example",), records=[ana], reply_to=first
        )
    assert not ConversationMessage.objects.filter(message=outbound.message).exists()
    # The sending worker announces it (outbox/outcomes.py, on commit); the inbox hears it.
    with django_capture_on_commit_callbacks(execute=True):
        announce_sent(outbound, [ana.pk])
    link = ConversationMessage.objects.get(message=outbound.message)
    assert link.conversation.counterpart == "ana@client.example"
    assert link.conversation.awaiting_since is None


def test_response_times_count_working_minutes_across_a_weekend(team_desk, sync_page):
    # The account's default hours: Monday to Friday, 09:00 to 17:00 UTC.
    friday = datetime(2026, 12, 4, 16, 30, tzinfo=UTC)
    [asked] = sync_page(team_desk, header("ana@client.example", date=friday))
    monday = datetime(2026, 12, 7, 9, 45, tzinfo=UTC)
    sync_page(team_desk, header(TEAM, ["ana@client.example"], parent=asked.message_id, date=monday))
    conversation = Conversation.objects.get()
    assert conversation.first_response_at == monday
    assert conversation.first_response_minutes == 30 + 45
    [again] = sync_page(
        team_desk,
        header("ana@client.example", parent=asked.message_id, date=monday + timedelta(hours=1)),
    )
    later = monday + timedelta(hours=3)
    sync_page(team_desk, header(TEAM, ["ana@client.example"], parent=again.message_id, date=later))
    conversation.refresh_from_db()
    assert conversation.first_response_minutes == 75  # the first stays
    assert conversation.last_response_minutes == 120


def test_an_inbox_set_not_to_make_contacts_keeps_only_known_senders(team_desk, sync_page, owner):
    TeamInbox.objects.filter(pk=team_desk.team_inbox_id).update(create_contacts=False)
    team_desk.team_inbox.refresh_from_db()
    ContactFactory(owner=owner, emails=["known@client.example"])
    sync_page(team_desk, header("stranger@client.example"), header("known@client.example"))
    assert list(Conversation.objects.values_list("counterpart", flat=True)) == [
        "known@client.example"
    ]
    assert not Contact.objects.filter(emails__address="stranger@client.example").exists()
