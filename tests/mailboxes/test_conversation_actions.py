"""Working a conversation from its reading pane: assign, close and reopen, snooze (and waking
when it is over), internal comments with @mentions, and replies from the team address
through the composer's send path. Bad input is refused with words and changes nothing."""

from datetime import timedelta
from email import message_from_bytes, policy

import pytest
from django.urls import reverse
from django.utils import timezone

from mailboxes.conversations import listing, services
from mailboxes.models import (
    Conversation,
    ConversationComment,
    ConversationMessage,
    EmailMessage,
    Outbound,
)
from privacy.services import opt_out_of_all
from records import jobs
from records.models import Contact
from tests.mailboxes.conversations import TEAM, header

pytestmark = pytest.mark.django_db


@pytest.fixture
def ana(team_desk, sync_page, owner):
    [first] = sync_page(team_desk, header("ana@client.example", name="Ana Lima"))
    Contact.objects.filter(emails__address="ana@client.example").update(owner=owner)
    conversation = Conversation.objects.get()
    conversation.first_message = first
    return conversation


@pytest.fixture
def notices(settings, queued_jobs):
    settings.CRM_SYSTEM_EMAIL_URL = "smtp://127.0.0.1:1"
    return queued_jobs


def act(client, conversation, action, **data):
    url = reverse("mailboxes:conversations-act", args=[conversation.pk, action])
    return client.post(url + "?view=open", data)


def test_assign_to_a_teammate_notifies_them_and_outsiders_are_refused(
    client, owner, teammate, outsider, ana, notices, django_capture_on_commit_callbacks
):
    teammate.email = "teammate@crm.example"
    teammate.save()
    client.force_login(owner)
    with django_capture_on_commit_callbacks(execute=True):
        response = act(client, ana, "assign", **{"assign-assignee": teammate.pk})
    assert response.status_code == 302 and f"c={ana.pk}" in response.url
    ana.refresh_from_db()
    assert ana.assignee == teammate
    [(user_id, subject, _text, link)] = notices.args_of(jobs.NOTIFY)
    assert user_id == teammate.pk and "assigned to you" in subject
    assert link == f"/conversations/{ana.mailbox_id}/?c={ana.pk}"

    refused = act(client, ana, "assign", **{"assign-assignee": outsider.pk})
    assert refused.status_code == 400
    assert "Select a valid choice" in refused.content.decode()
    with pytest.raises(services.ConversationError, match="member of the team"):
        services.assign(owner, ana, outsider.pk)
    ana.refresh_from_db()
    assert ana.assignee == teammate


def test_close_reopen_and_who_may(client, owner, viewer, outsider, ana):
    client.force_login(owner)
    act(client, ana, "close")
    ana.refresh_from_db()
    assert ana.status == "closed"
    act(client, ana, "reopen")
    ana.refresh_from_db()
    assert ana.status == "open"
    client.force_login(viewer)  # the team's View-only seat looks only
    assert act(client, ana, "close").status_code == 403
    client.force_login(outsider)
    assert act(client, ana, "close").status_code == 404
    ana.refresh_from_db()
    assert ana.status == "open"


def test_snooze_hides_until_the_time_and_the_past_is_refused(client, owner, ana):
    client.force_login(owner)
    past = (timezone.localtime() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    refused = act(client, ana, "snooze", **{"snooze-until": past})
    assert refused.status_code == 400
    assert "Choose a time in the future." in refused.content.decode()
    ana.refresh_from_db()
    assert ana.snoozed_until is None

    later = (timezone.localtime() + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
    assert act(client, ana, "snooze", **{"snooze-until": later}).status_code == 302
    ana.refresh_from_db()
    assert ana.snoozed_until > timezone.now()
    open_now = listing.conversations(owner, ana.mailbox, listing.Filters(view="open"))
    assert not open_now.exists()
    before = ana.updated_at
    # Beat's job wakes it when the time comes, moving the version the polls compare.
    assert services.wake_due(timezone.now() + timedelta(hours=3)) == 1
    ana.refresh_from_db()
    assert ana.snoozed_until is None and ana.updated_at > before


def test_an_internal_comment_is_never_emailed_and_mentions_notify(
    client, owner, teammate, ana, notices, django_capture_on_commit_callbacks
):
    teammate.email = "teammate@crm.example"
    teammate.save()
    client.force_login(owner)
    assert act(client, ana, "comment", **{"comment-text": "  "}).status_code == 400
    emails_before = EmailMessage.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        text = f"@{teammate.username} can you take this? cc @nobody"
        assert act(client, ana, "comment", **{"comment-text": text}).status_code == 302
    note = ConversationComment.objects.get()
    assert list(note.mentioned.all()) == [teammate]
    assert EmailMessage.objects.count() == emails_before and not Outbound.objects.exists()
    [(user_id, subject, body, _link)] = notices.args_of(jobs.NOTIFY)
    assert user_id == teammate.pk and "mentioned you" in subject and "take this" in body
    page = client.get(
        reverse("mailboxes:conversations-inbox", args=[ana.mailbox_id]) + f"?c={ana.pk}"
    )
    assert "can you take this?" in page.content.decode()


def test_a_reply_goes_from_the_team_address_in_the_thread_and_is_filed(
    client, owner, ana, queued_jobs, django_capture_on_commit_callbacks
):
    client.force_login(owner)
    data = {
        "reply-to": "ana@client.example",
        "reply-cc": "",
        "reply-subject": "Re: Order 1234",
        "reply-text": "Hello Ana,\nwe are on it.",
    }
    with django_capture_on_commit_callbacks(execute=True):
        assert act(client, ana, "reply", **data).status_code == 302
    outbound = Outbound.objects.get()
    assert outbound.message.mailbox_id == ana.mailbox_id
    mime = message_from_bytes(bytes(outbound.message.raw), policy=policy.default)
    assert mime["From"] == f"Support <{TEAM}>"
    assert mime["In-Reply-To"] == ana.first_message.message_id
    assert ana.first_message.message_id in mime["References"]
    assert ConversationMessage.objects.filter(conversation=ana, message=outbound.message).exists()
    ana.refresh_from_db()
    assert ana.awaiting_since is None and ana.first_response_at is not None
    assert outbound.message.contacts.filter(pk=ana.contact_id).exists()  # logged on Ana


def test_a_reply_without_recipients_or_refused_by_privacy_sends_nothing_and_keeps_the_text(
    client, owner, outsider, ana
):
    client.force_login(owner)
    data = {"reply-to": " , ", "reply-subject": "Re: x", "reply-text": "Keep these words"}
    empty = act(client, ana, "reply", **data)
    assert empty.status_code == 400
    page = empty.content.decode()
    assert "Add at least one recipient." in page and "Keep these words" in page
    opt_out_of_all(ana.contact, source="rep", actor=owner)
    refused = act(client, ana, "reply", **{**data, "reply-to": "ana@client.example"})
    page = refused.content.decode()
    assert refused.status_code == 400 and "Keep these words" in page
    assert "opted out" in page
    client.force_login(outsider)  # a conversation one cannot see: no such conversation
    assert (
        act(client, ana, "reply", **{**data, "reply-to": "ana@client.example"}).status_code == 404
    )
    assert not Outbound.objects.exists()


def test_assign_back_to_the_team_and_to_nobody(client, owner, blue, ana):
    client.force_login(owner)
    act(client, ana, "assign", **{"assign-assignee": owner.pk})
    ana.refresh_from_db()
    assert ana.assignee == owner
    act(client, ana, "assign", **{"assign-assignee": "team"})
    ana.refresh_from_db()
    assert ana.assignee is None and ana.assignee_team == blue
    act(client, ana, "assign", **{"assign-assignee": ""})
    ana.refresh_from_db()
    assert ana.assignee is None and ana.assignee_team is None


def test_reply_all_copies_everyone_else_on_the_latest_email(
    client, owner, team_desk, sync_page, ana
):
    sync_page(
        team_desk,
        header(
            "ana@client.example",
            to=(TEAM, "boss@client.example"),
            cc=("carl@client.example",),
            parent=ana.first_message.message_id,
            minutes=10,
        ),
    )
    client.force_login(owner)
    url = reverse("mailboxes:conversations-inbox", args=[ana.mailbox_id])
    form = client.get(f"{url}?c={ana.pk}&reply=all").context["reply_form"]
    assert form.initial["to"] == "ana@client.example"
    assert form.initial["cc"] == "boss@client.example, carl@client.example"
    assert client.get(f"{url}?c={ana.pk}").context["reply_form"].initial["cc"] == ""


def reply_data(client, conversation, **changes):
    """The reply form as the pane renders it (its `since` mark included), filled in."""
    url = reverse("mailboxes:conversations-inbox", args=[conversation.mailbox_id])
    form = client.get(f"{url}?c={conversation.pk}").context["reply_form"]
    data = {f"reply-{name}": value for name, value in form.initial.items()}
    data.update({"reply-cc": "", "reply-text": "Our answer"}, **changes)
    return data


def test_teammates_see_who_is_viewing_and_replying(client, owner, teammate, outsider, ana):
    url = reverse("mailboxes:conversations-presence", args=[ana.pk])
    client.force_login(owner)
    assert client.post(url, {"state": "replying"}).content.decode().strip() == ""
    client.force_login(teammate)
    seen = client.post(url, {"state": "viewing"}).content.decode()
    assert f"{owner.display_name} is replying" in seen
    client.force_login(owner)
    assert f"{teammate.display_name} is viewing" in client.post(url, {}).content.decode()
    client.force_login(outsider)
    assert client.post(url, {"state": "viewing"}).status_code == 404


def test_a_second_answer_is_held_back_once_with_a_warning(
    client, owner, teammate, ana, django_capture_on_commit_callbacks
):
    client.force_login(teammate)
    teammates_form = reply_data(client, ana)
    client.force_login(owner)
    owners_form = reply_data(client, ana)
    # The teammate opens the reply form: the owner's send is held back.
    client.force_login(teammate)
    client.post(reverse("mailboxes:conversations-presence", args=[ana.pk]), {"state": "replying"})
    client.force_login(owner)
    held = act(client, ana, "reply", **owners_form)
    page = held.content.decode()
    assert held.status_code == 400
    assert f"{teammate.display_name} is replying to this conversation too" in page
    assert "Send mine anyway" in page and "Our answer" in page
    assert not Outbound.objects.exists()
    # The owner is writing now, so the teammate is warned in turn, and sends anyway; the
    # owner's form, opened before, is then warned of that answer.
    client.force_login(teammate)
    warned = act(client, ana, "reply", **teammates_form).content.decode()
    assert f"{owner.display_name} is replying to this conversation too" in warned
    anyway = {**teammates_form, "reply-send_anyway": "on"}
    assert act(client, ana, "reply", **anyway).status_code == 302
    client.force_login(owner)
    held = act(client, ana, "reply", **owners_form)
    assert "A teammate replied to this conversation after you opened it" in held.content.decode()
    assert Outbound.objects.count() == 1
    # Sending anyway is the owner's choice.
    assert (
        act(client, ana, "reply", **owners_form, **{"reply-send_anyway": "on"}).status_code == 302
    )
    assert Outbound.objects.count() == 2


def test_forward_sends_the_latest_email_on_and_answers_nobody(
    client, owner, ana, queued_jobs, django_capture_on_commit_callbacks
):
    client.force_login(owner)
    assert act(client, ana, "forward", **{"forward-to": "not an address"}).status_code == 400
    data = {"forward-to": "boss@partner.example", "forward-text": "Can you help Ana?"}
    with django_capture_on_commit_callbacks(execute=True):
        assert act(client, ana, "forward", **data).status_code == 302
    outbound = Outbound.objects.get()
    mime = message_from_bytes(bytes(outbound.message.raw), policy=policy.default)
    assert mime["From"] == f"Support <{TEAM}>" and mime["To"] == "boss@partner.example"
    assert mime["Subject"] == "Fwd: Order 1234"
    html = mime.get_body(("html",)).get_content()
    assert "Can you help Ana?" in html and "Hello, this is Ana Lima about Order 1234." in html
    assert ConversationMessage.objects.filter(conversation=ana, message=outbound.message).exists()
    ana.refresh_from_db()
    assert ana.awaiting_since is not None and ana.first_response_at is None  # still waiting
