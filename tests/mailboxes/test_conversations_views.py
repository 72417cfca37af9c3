"""The conversations inbox's pages: who sees an inbox, the list's filters, unread markers and
search, the reading pane, the framed bodies, and the poll that answers 304 from one query."""

import time
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from mailboxes.models import Conversation, ConversationMessage, EmailMessage, TrustedImageSender
from records.models import Contact
from records.services import association_create
from tests.factories import CompanyFactory, UserFactory
from tests.mailboxes.conversations import TEAM, header

pytestmark = pytest.mark.django_db


@pytest.fixture
def inbox_url(team_desk):
    return reverse("mailboxes:conversations-inbox", args=[team_desk.pk])


@pytest.fixture
def two(team_desk, sync_page):
    """Ana's conversation (waiting on us) and Bo's (answered)."""
    [ana] = sync_page(team_desk, header("ana@client.example", name="Ana Lima", subject="Broken"))
    [bo] = sync_page(team_desk, header("bo@other.example", name="Bo Berg", subject="Invoice"))
    sync_page(team_desk, header(TEAM, ["bo@other.example"], parent=bo.message_id, minutes=5))
    return (
        Conversation.objects.get(counterpart="ana@client.example"),
        Conversation.objects.get(counterpart="bo@other.example"),
    )


def test_the_inbox_is_for_its_team_and_admins_only(
    client, team_desk, inbox_url, owner, outsider, admin_user, two
):
    client.force_login(owner)
    page = client.get(inbox_url).content.decode()
    assert "Ana Lima" in page and "Bo Berg" in page
    assert client.get(reverse("mailboxes:conversations")).url == inbox_url  # their one inbox
    client.force_login(admin_user)
    assert client.get(inbox_url).status_code == 200
    client.force_login(outsider)
    assert client.get(inbox_url).status_code == 404
    assert client.get(f"{inbox_url}?c={two[0].pk}").status_code == 404
    page = client.get(reverse("mailboxes:conversations")).content.decode()
    assert "No team inbox is routed to you" in page


def test_filters_and_search(client, inbox_url, owner, teammate, two):
    ana, bo = two
    Conversation.objects.filter(pk=bo.pk).update(assignee=owner)
    client.force_login(owner)

    def shown(query):
        context = client.get(f"{inbox_url}?{query}").context
        return {c.counterpart for c in context["conversations"]}

    everyone = {"ana@client.example", "bo@other.example"}
    assert shown("view=open") == everyone
    assert shown("view=mine") == {"bo@other.example"}
    assert shown("view=unassigned") == {"ana@client.example"}
    assert shown("view=waiting") == {"ana@client.example"}
    assert shown(f"view=open&member={owner.pk}") == {"bo@other.example"}
    assert shown(f"view=open&member={teammate.pk}") == set()
    assert shown("view=open&q=invoice") == {"bo@other.example"}
    assert shown("view=open&q=ANA@client") == {"ana@client.example"}
    Conversation.objects.filter(pk=ana.pk).update(status="closed")
    assert shown("view=closed") == {"ana@client.example"}
    Conversation.objects.filter(pk=bo.pk).update(snoozed_until=timezone.now() + timedelta(hours=1))
    assert shown("view=open") == set() and shown("view=snoozed") == {"bo@other.example"}
    # A snooze that is over shows the conversation again, whether or not beat has run.
    Conversation.objects.filter(pk=bo.pk).update(
        snoozed_until=timezone.now() - timedelta(minutes=1)
    )
    assert shown("view=open") == {"bo@other.example"}
    # Newest activity first.
    Conversation.objects.filter(pk=ana.pk).update(status="open")
    order = [c.counterpart for c in client.get(inbox_url).context["conversations"]]
    assert order == ["bo@other.example", "ana@client.example"]


def test_unread_until_opened_per_user_and_again_on_new_mail(
    client, team_desk, sync_page, inbox_url, owner, teammate, two
):
    ana, _ = two

    def unread(user):
        client.force_login(user)
        return {c.counterpart for c in client.get(inbox_url).context["conversations"] if c.unread}

    assert unread(owner) == {"ana@client.example", "bo@other.example"}
    page = client.get(f"{inbox_url}?view=open&c={ana.pk}")
    assert page.context["conversation"] == ana
    assert unread(owner) == {"bo@other.example"}
    assert unread(teammate) == {"ana@client.example", "bo@other.example"}  # their own marker
    first = ConversationMessage.objects.filter(conversation=ana).get().message
    sync_page(team_desk, header("ana@client.example", parent=first.message_id, minutes=30))
    assert unread(owner) == {"ana@client.example", "bo@other.example"}


def test_the_reading_pane_shows_the_thread_in_frames_and_the_contact(
    client, team_desk, sync_page, inbox_url, owner, two
):
    ana, bo = two
    client.force_login(owner)
    page = client.get(f"{inbox_url}?c={bo.pk}").content.decode()
    messages = list(
        ConversationMessage.objects.filter(conversation=bo).order_by("message__sent_at")
    )
    assert len(messages) == 2
    for link in messages:
        assert reverse("mailboxes:conversations-body", args=[link.message_id]) in page
    assert 'sandbox="allow-popups allow-popups-to-escape-sandbox"' in page
    # The contact made for a new sender has no owner: only users who see all records open it.
    assert "No contact you can open." in page
    Contact.objects.filter(pk=bo.contact_id).update(owner=owner)
    company = CompanyFactory(owner=owner, name="Berg AB")
    association_create(Contact.objects.get(pk=bo.contact_id), company)
    page = client.get(f"{inbox_url}?c={bo.pk}").content.decode()
    assert reverse("records:detail", args=["contacts", bo.contact_id]) in page
    assert reverse("records:detail", args=["companies", company.pk]) in page


def test_a_body_is_framed_with_no_script_and_hidden_outside_the_team(client, outsider, owner, two):
    link = ConversationMessage.objects.filter(conversation=two[0]).first()
    url = reverse("mailboxes:conversations-body", args=[link.message_id])
    client.force_login(owner)
    response = client.get(url)
    assert response.status_code == 200
    assert "default-src 'none'" in response["Content-Security-Policy"]
    client.force_login(outsider)
    assert client.get(url).status_code == 404


def test_the_poll_answers_304_from_one_query_until_something_changes(
    client, team_desk, owner, teammate, two
):
    ana, _ = two
    url = reverse("mailboxes:conversations-list", args=[team_desk.pk]) + "?view=open"
    client.force_login(owner)
    first = client.get(url)
    assert first.status_code == 200 and first["ETag"]
    with CaptureQueriesContext(connection) as queries:
        again = client.get(url, HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304 and again.content == b""
    mine = [q["sql"] for q in queries.captured_queries if "conversation" in q["sql"]]
    assert len(mine) == 1  # the version; the rest is the session and the user
    assert len(queries.captured_queries) <= 3
    # A teammate's change shows at the next poll.
    Conversation.objects.get(pk=ana.pk).save()
    changed = client.get(url, HTTP_IF_NONE_MATCH=first["ETag"])
    assert changed.status_code == 200 and changed["ETag"] != first["ETag"]
    assert 'id="convo-list"' in changed.content.decode()


def test_the_list_takes_the_same_queries_for_many_conversations(
    client, team_desk, sync_page, owner, inbox_url
):
    client.force_login(owner)

    def queries_with(n):
        sync_page(
            team_desk,
            *[header(f"p{len_}-{i}@client.example") for i in range(n) for len_ in [n]],
        )
        with CaptureQueriesContext(connection) as queries:
            client.get(inbox_url)
        return len(queries.captured_queries)

    assert queries_with(2) == queries_with(20)
    assert Conversation.objects.count() == 22


def test_an_inbox_outside_ones_routing_is_not_listed(client, team_desk, red):
    stranger = UserFactory(username="stranger", team=red)
    client.force_login(stranger)
    url = reverse("mailboxes:conversations-list", args=[team_desk.pk])
    assert client.get(url).status_code == 404


def test_the_list_marks_what_is_close_to_or_past_the_response_target(team_desk, owner, two):
    from datetime import UTC, datetime

    from mailboxes.conversations import listing
    from mailboxes.models import TeamInbox

    ana, bo = two
    TeamInbox.objects.filter(pk=team_desk.team_inbox_id).update(response_target_minutes=60)
    team_desk.team_inbox.refresh_from_db()
    friday = datetime(2026, 12, 4, 16, 30, tzinfo=UTC)  # business hours: Mon-Fri 9-17 UTC
    Conversation.objects.filter(pk=ana.pk).update(awaiting_since=friday)

    def marks(now):
        rows = listing.page(owner, team_desk, listing.Filters(), now=now)
        return {c.counterpart: (c.target, c.minutes_left) for c in rows}

    monday = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    assert marks(monday)["ana@client.example"] == ("", 30)  # 30 minutes counted on Friday
    assert marks(monday.replace(minute=20))["ana@client.example"] == ("soon", 10)
    assert marks(monday.replace(minute=45))["ana@client.example"] == ("late", -15)
    assert marks(monday)["bo@other.example"] == ("", None)  # answered: nothing waits


def test_the_version_also_moves_with_the_clock(team_desk, owner, two):
    """Marks against a response target and "2 hours ago" change with time alone: the
    version has the clock in it, in steps of REFRESH_SECONDS, target or not."""
    from mailboxes.conversations import listing

    before = int(time.time()) // listing.REFRESH_SECONDS
    tick = int(listing.version(team_desk.pk, owner.pk).rsplit("-", 1)[1])
    assert before <= tick <= int(time.time()) // listing.REFRESH_SECONDS


def test_the_list_and_the_poll_take_the_same_queries_with_100000_conversations(
    postgresql, client, team_desk, owner, inbox_url
):
    from mailboxes.models import EmailThread
    from records.bulk import insert_rows

    client.force_login(owner)
    list_url = reverse("mailboxes:conversations-list", args=[team_desk.pk]) + "?view=open"

    def count(*request, **headers) -> int:
        # The log keeps 9,000 queries at most: empty it, or a full one counts nothing (and
        # CaptureQueriesContext reads the log when asked, so count before the next clear).
        connection.queries_log.clear()
        with CaptureQueriesContext(connection) as captured:
            response = client.get(*request, **headers)
        return response.status_code, len(captured.captured_queries)

    def queries():
        etag = client.get(list_url)["ETag"]
        return count(inbox_url), count(list_url, HTTP_IF_NONE_MATCH=etag)

    def add(n, start):
        now = timezone.now()
        thread = EmailThread.objects.create(subject="bulk")
        insert_rows(
            Conversation,
            {
                "mailbox_id": [team_desk.pk] * n,
                "thread_id": [thread.pk] * n,
                "counterpart": [f"p{start + i}@client.example" for i in range(n)],
                "subject": [f"Question {start + i}" for i in range(n)],
                "last_activity_at": [now - timedelta(seconds=start + i) for i in range(n)],
                "awaiting_since": [now] * n,
            },
            now,
        )

    add(10, 0)
    few = queries()
    (page_status, page_queries), (poll_status, poll_queries) = few
    assert (page_status, poll_status) == (200, 304)
    assert page_queries > 5 and poll_queries <= 3  # the poll: session, user, the version
    add(99_990, 10)
    assert Conversation.objects.filter(mailbox=team_desk).count() == 100_000
    assert queries() == few
    shown = client.get(inbox_url).context["conversations"]
    assert [c.counterpart for c in shown[:2]] == ["p0@client.example", "p1@client.example"]


def test_the_inbox_keeps_working_while_the_broker_is_down(
    client,
    team_desk,
    sync_page,
    owner,
    teammate,
    two,
    celery_broker,
    dead_broker,
    settings,
    django_capture_on_commit_callbacks,
):
    """The poll, the presence reports and the changes teammates make need no broker: with it
    down (refused or hung), a teammate's assignment and new mail still reach the list."""
    celery_broker(dead_broker)
    settings.CRM_SYSTEM_EMAIL_URL = "smtp://127.0.0.1:1"  # the assignee's notice is queued
    ana, _ = two
    owner.email = "owner@crm.example"
    owner.save()
    url = reverse("mailboxes:conversations-list", args=[team_desk.pk]) + "?view=open"
    client.force_login(owner)
    etag = client.get(url)["ETag"]
    assert client.get(url, HTTP_IF_NONE_MATCH=etag).status_code == 304
    client.force_login(teammate)
    act = reverse("mailboxes:conversations-act", args=[ana.pk, "assign"])
    with django_capture_on_commit_callbacks(execute=True):  # the notice meets the dead broker
        assert client.post(act, {"assign-assignee": owner.pk}).status_code == 302
    presence = reverse("mailboxes:conversations-presence", args=[ana.pk])
    assert client.post(presence, {"state": "replying"}).status_code == 200
    sync_page(team_desk, header("cleo@third.example", name="Cleo Cruz", minutes=90))
    client.force_login(owner)
    changed = client.get(url, HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200
    page = changed.content.decode()
    assert "Cleo Cruz" in page and owner.display_name in page
    assert Conversation.objects.get(pk=ana.pk).assignee == owner


def test_remote_images_stay_hidden_until_shown_once_or_always_for_the_sender(
    client, outsider, owner, two
):
    ana = two[0]
    link = ConversationMessage.objects.filter(conversation=ana).first()
    EmailMessage.objects.filter(pk=link.message_id).update(
        html_body='<p>Look</p><img src="https://img.client.example/logo.png">', body_parsed=True
    )
    body_url = reverse("mailboxes:conversations-body", args=[link.message_id])
    images_url = reverse("mailboxes:conversations-images", args=[link.message_id])
    pane_url = reverse("mailboxes:conversations-inbox", args=[ana.mailbox_id]) + f"?c={ana.pk}"
    client.force_login(owner)
    page = client.get(pane_url).content.decode()
    assert "Images are hidden" in page and f'href="{body_url}?images=1"' in page
    assert f'name="email-frame-{link.message_id}"' in page
    assert "img-src data:;" in client.get(body_url)["Content-Security-Policy"]
    assert "https:" in client.get(body_url + "?images=1")["Content-Security-Policy"]

    # Always for this sender: the frame loads them without asking, the banner says so.
    response = client.post(images_url, {"always": "1"})
    assert response.status_code == 302 and response.url == pane_url
    assert "https:" in client.get(body_url)["Content-Security-Policy"]
    assert (
        "Images from ana@client.example are always shown." in client.get(pane_url).content.decode()
    )
    client.post(images_url, {"always": "0"})
    assert "img-src data:;" in client.get(body_url)["Content-Security-Policy"]

    client.force_login(outsider)  # not on the team: neither the email nor the switch
    assert client.post(images_url, {"always": "1"}).status_code == 404
    assert not TrustedImageSender.objects.filter(user=outsider).exists()
