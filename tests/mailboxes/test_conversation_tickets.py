"""A help-desk inbox's conversations are tickets: opened with the conversation, its emails on
the ticket's timeline, replies logged on it without needing a legal basis, and closing either
one closes the other."""

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from mailboxes.conversations import listing, services
from mailboxes.models import Conversation, Outbound, TeamInbox
from privacy.services import privacy_settings_update
from records.models import ActivityLink, Association, Contact, Ticket
from tests.mailboxes.conversations import announce_sent, header

pytestmark = pytest.mark.django_db


@pytest.fixture
def desk(team_desk, owner):
    TeamInbox.objects.filter(pk=team_desk.team_inbox_id).update(
        kind="help_desk", route_to_user=owner, route_to_team=None
    )
    team_desk.team_inbox.refresh_from_db()
    return team_desk


@pytest.fixture
def ticketed(desk, sync_page):
    [first] = sync_page(desk, header("ana@client.example", subject="Refund please"))
    conversation = Conversation.objects.get()
    conversation.first = first
    return conversation


def test_a_new_help_desk_conversation_opens_a_ticket_with_its_email_on_it(ticketed, owner):
    ticket = ticketed.ticket
    assert ticket is not None
    assert (ticket.name, ticket.owner, ticket.status) == ("Refund please", owner, "waiting_on_us")
    contact = Contact.objects.get(emails__address="ana@client.example")
    assert Association.objects.filter(from_record=ticket, to_record=contact).exists()
    assert ActivityLink.objects.filter(record=ticket, activity=ticketed.first.activity).exists()


def test_later_mail_and_replies_go_on_the_ticket_without_a_legal_basis(
    desk, sync_page, ticketed, owner, client, queued_jobs
):
    [again] = sync_page(
        desk, header("ana@client.example", parent=ticketed.first.message_id, minutes=5)
    )
    ticket = ticketed.ticket
    assert ActivityLink.objects.filter(record=ticket, activity=again.activity).exists()
    privacy_settings_update(actor=owner, gdpr_enabled=True)  # the contact has no basis
    client.force_login(owner)
    url = reverse("mailboxes:conversations-act", args=[ticketed.pk, "reply"])
    response = client.post(
        url,
        {
            "reply-to": "ana@client.example",
            "reply-subject": "Re: Refund please",
            "reply-text": "Refunded today.",
        },
    )
    assert response.status_code == 302
    outbound = Outbound.objects.get()
    assert outbound.privacy_context == "ticket_reply"
    assert ActivityLink.objects.filter(record=ticket, activity=outbound.message.activity).exists()
    assert Conversation.objects.count() == 1


def test_closing_the_conversation_closes_the_ticket_and_back(ticketed, owner):
    services.set_status(owner, ticketed, "closed")
    assert Ticket.objects.get(pk=ticketed.ticket_id).status == "closed"
    services.set_status(owner, ticketed, "open")
    assert Ticket.objects.get(pk=ticketed.ticket_id).status == "waiting_on_us"


def test_a_rep_closing_the_ticket_closes_the_conversation_and_reopening_reopens_it(
    ticketed, owner, client, django_capture_on_commit_callbacks
):
    client.force_login(owner)
    edit = reverse("records:edit", args=["tickets", ticketed.ticket_id])
    form = client.get(edit).context["form"]
    data = {name: form[name].value() or "" for name in form.fields}
    for status, expected in (("closed", "closed"), ("waiting_on_us", "open")):
        with django_capture_on_commit_callbacks(execute=True):
            assert client.post(edit, {**data, "status": status}).status_code == 302
        ticketed.refresh_from_db()
        assert ticketed.status == expected


def test_the_pane_links_the_ticket(ticketed, owner, client):
    client.force_login(owner)
    url = reverse("mailboxes:conversations-inbox", args=[ticketed.mailbox_id])
    page = client.get(f"{url}?c={ticketed.pk}").content.decode()
    assert reverse("records:detail", args=["tickets", ticketed.ticket_id]) in page


def test_a_help_desk_email_written_on_a_contact_gives_its_conversation_that_ticket(
    desk, owner, django_capture_on_commit_callbacks
):
    from tests.factories import ContactFactory
    from tests.mailboxes.outbox import submit

    lea = ContactFactory(owner=owner, emails=["lea@client.example"])
    outbound = submit(owner, desk, to=("lea@client.example",), records=[lea])
    ticket = Ticket.objects.get()  # the composer opened it (composer/drafts.thread_for)
    with django_capture_on_commit_callbacks(execute=True):
        announce_sent(outbound, [lea.pk])
    conversation = Conversation.objects.get()
    assert conversation.ticket == ticket and Ticket.objects.count() == 1


def test_an_internal_comment_is_a_note_on_the_ticket_and_emailed_to_nobody(ticketed, owner):
    services.comment(owner, ticketed, "Refund approved by finance.")
    note = ActivityLink.objects.get(record=ticketed.ticket, activity__kind="note").activity
    assert note.body == "Refund approved by finance." and note.created_by == owner
    assert not Outbound.objects.exists()


def test_the_pane_sets_the_ticket_priority_through_records_and_the_list_shows_it(
    ticketed, owner, client, django_capture_on_commit_callbacks
):
    from records.signals import record_changed

    heard = []

    def receive(sender, event, **kwargs):
        heard.append(event)

    record_changed.connect(receive, dispatch_uid="test_priority")
    client.force_login(owner)
    inbox = reverse("mailboxes:conversations-inbox", args=[ticketed.mailbox_id])
    page = client.get(f"{inbox}?c={ticketed.pk}").content.decode()
    assert 'name="priority-priority"' in page
    before = listing.version(ticketed.mailbox_id, owner.pk)
    url = reverse("mailboxes:conversations-act", args=[ticketed.pk, "priority"])
    try:
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(url, {"priority-priority": "urgent"}, follow=True)
    finally:
        record_changed.disconnect(dispatch_uid="test_priority")
    assert Ticket.objects.get(pk=ticketed.ticket_id).priority == "urgent"
    assert [(e.record_id, e.changed) for e in heard] == [
        (ticketed.ticket_id, {"priority": ("medium", "urgent")})
    ]
    assert "Priority saved." in response.content.decode()
    assert listing.version(ticketed.mailbox_id, owner.pk) != before  # teammates' polls see it
    row = client.get(reverse("mailboxes:conversations-list", args=[ticketed.mailbox_id]))
    assert (
        '<span class="badge danger" title="Ticket priority">Urgent</span>' in row.content.decode()
    )


def test_a_priority_not_listed_is_refused_and_nothing_changes(ticketed, owner, client):
    client.force_login(owner)
    before = Conversation.objects.get(pk=ticketed.pk).updated_at
    url = reverse("mailboxes:conversations-act", args=[ticketed.pk, "priority"])
    response = client.post(url, {"priority-priority": "whenever"})
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert Ticket.objects.get(pk=ticketed.ticket_id).priority == "medium"
    assert Conversation.objects.get(pk=ticketed.pk).updated_at == before
    with pytest.raises(services.ConversationError) as refused:
        services.set_priority(owner, ticketed, "whenever")
    assert refused.value.message_dict == {"priority": ["Choose one of the priorities listed."]}


def test_someone_who_may_not_work_the_conversation_cannot_set_its_priority(
    ticketed, outsider, viewer, teammate, blue, client
):
    url = reverse("mailboxes:conversations-act", args=[ticketed.pk, "priority"])
    client.force_login(outsider)  # outside the inbox's routing
    assert client.post(url, {"priority-priority": "high"}).status_code == 404
    with pytest.raises(PermissionDenied):
        services.set_priority(viewer, ticketed, "high")  # a View-only seat looks only
    # Working the inbox, but the ticket is outside their record access (another's, own-only).
    TeamInbox.objects.filter(pk=ticketed.mailbox.team_inbox_id).update(route_to_team=blue)
    teammate.record_access = "own"
    teammate.save()
    with pytest.raises(services.ConversationError) as refused:
        services.set_priority(teammate, ticketed, "high")
    assert refused.value.message_dict == {
        "priority": ["This conversation has no ticket you can change."]
    }
    assert Ticket.objects.get(pk=ticketed.ticket_id).priority == "medium"


def test_a_rep_setting_the_priority_on_the_ticket_page_moves_the_inbox_version(
    ticketed, owner, client, django_capture_on_commit_callbacks
):
    client.force_login(owner)
    edit = reverse("records:edit", args=["tickets", ticketed.ticket_id])
    form = client.get(edit).context["form"]
    data = {name: form[name].value() or "" for name in form.fields}
    before = listing.version(ticketed.mailbox_id, owner.pk)
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(edit, {**data, "priority": "low"}).status_code == 302
    assert listing.version(ticketed.mailbox_id, owner.pk) != before
    [row] = listing.page(owner, ticketed.mailbox, listing.Filters())
    assert (str(row.priority), row.priority_badge) == ("Low", "")
