"""The ledger (the top bar's "Email"): who sees which emails and what of them, its filters, its
actions, and what a page costs."""

from datetime import UTC, datetime, timedelta
from html import unescape

import pytest
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from mailboxes.constants import SendStatus
from mailboxes.models import Outbound, TrackingKind
from mailboxes.tracking import events
from mailboxes.tracking.classify import Hit
from records.constants import RecordAccess
from records.models import Contact
from tests.factories import ContactFactory, UserFactory
from tests.mailboxes.inboxes import offline_mailbox
from tests.mailboxes.outbox import submit

LEDGER = reverse("mailboxes:ledger")
SAFARI = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Safari/605.1.15"
)


@pytest.fixture
def inbox(owner):
    return offline_mailbox(owner)


def ledger_page(client, user, **params) -> str:
    client.force_login(user)
    response = client.get(LEDGER, params)
    assert response.status_code == 200
    return unescape(response.content.decode())


def rows(html: str) -> int:
    return html.count('<tr id="ledger-row-')


def mark(outbound, status, **fields):
    """Put an email in a state the worker would have left it in."""
    Outbound.objects.filter(pk=outbound.pk).update(status=status, **fields)


def test_a_rep_sees_the_emails_they_wrote_and_no_one_elses(client, owner, inbox, contact):
    submit(owner, inbox, subject="Olivia's proposal")
    colleague = UserFactory(username="colleague", record_access=RecordAccess.ALL)
    theirs = offline_mailbox(colleague, email="colleague@crm.example")
    ContactFactory(first_name="Paul", owner=colleague, emails=["paul@beta.example"])
    submit(colleague, theirs, to=("paul@beta.example",), subject="Paul's renewal")

    mine = ledger_page(client, owner)
    assert rows(mine) == 1
    assert "Olivia's proposal" in mine and "Paul's renewal" not in mine
    # Seeing every record does not make another rep's sent mail theirs, nor does asking.
    assert "Olivia's proposal" not in ledger_page(client, colleague, who="everyone")
    assert "Paul's renewal" in ledger_page(client, colleague)


def test_an_email_on_records_the_rep_can_no_longer_open_keeps_what_it_says_hidden(
    client, owner, outsider, inbox, contact
):
    outbound = submit(owner, inbox, subject="Confidential pricing")
    Contact.objects.filter(pk=contact.pk).update(owner=outsider)  # moved to another team

    html = ledger_page(client, owner)
    assert rows(html) == 1
    assert "Hidden: logged on records you can't open" in html
    assert "Confidential pricing" not in html and "olivia@acme.example" not in html
    assert contact.name not in html
    # Its sending is still the rep's to change.
    assert reverse("mailboxes:ledger-action", args=[outbound.message_id, "cancel"]) in html
    # A search never matches it: a match would tell what it says.
    for words in ("Confidential", "olivia@acme"):
        assert rows(ledger_page(client, owner, q=words)) == 0


def test_an_admin_sees_everyones_email_they_may_read_and_nothing_else(
    client, owner, outsider, inbox, contact
):
    submit(owner, inbox, subject="Blue team email")
    red_inbox = offline_mailbox(outsider, email="outsider@crm.example")
    ContactFactory(first_name="Rita", owner=outsider, emails=["rita@red.example"])
    submit(outsider, red_inbox, to=("rita@red.example",), subject="Red team email")
    blue_admin = UserFactory(
        username="blueadmin", is_staff=True, team=owner.team, record_access=RecordAccess.TEAM
    )

    assert rows(ledger_page(client, blue_admin)) == 0  # wrote nothing
    everyone = ledger_page(client, blue_admin, who="everyone")
    assert "Blue team email" in everyone and f"by {owner.display_name}" in everyone
    assert "Red team email" not in everyone and rows(everyone) == 1
    assert rows(ledger_page(client, UserFactory(is_staff=True), who="everyone")) == 2


def test_filters_status_dates_in_the_viewers_time_zone_and_search(client, owner, inbox, contact):
    ContactFactory(first_name="Bea", owner=owner, emails=["bea@acme.example"])
    scheduled = submit(
        owner, inbox, subject="Next week", scheduled_at=timezone.now() + timedelta(days=7)
    )
    failed = submit(owner, inbox, to=("bea@acme.example",), subject="Contract")
    mark(failed, SendStatus.FAILED, last_error="Mailbox unavailable")
    sent = submit(owner, inbox, subject="Kickoff notes")
    # 20:00 UTC on March 10 is 09:00 on March 11 in Auckland.
    mark(sent, SendStatus.SENT, sent_at=datetime(2026, 3, 10, 20, 0, tzinfo=UTC))
    owner.time_zone = "Pacific/Auckland"
    owner.save()

    def subjects(**params):
        html = ledger_page(client, owner, **params)
        return {s for s in ("Next week", "Contract", "Kickoff notes") if s in html}

    assert subjects() == {"Next week", "Contract", "Kickoff notes"}
    assert subjects(status="scheduled") == {"Next week"}
    assert subjects(status="failed") == {"Contract"}
    assert subjects(status="sent") == {"Kickoff notes"}
    assert subjects(q="bea@") == {"Contract"}
    assert subjects(q="kickoff") == {"Kickoff notes"}
    assert subjects(since="2026-03-11", until="2026-03-11") == {"Kickoff notes"}
    assert subjects(since="2026-03-10", until="2026-03-10") == set()
    later = (timezone.localtime(scheduled.scheduled_at).date() - timedelta(days=1)).isoformat()
    assert subjects(since=later) == {"Next week"}
    assert "Mailbox unavailable" in ledger_page(client, owner, status="failed")


def test_opens_and_clicks_show_for_sent_email_only(client, owner, inbox, contact):
    sent = submit(owner, inbox, subject="Tracked and sent", track=True)
    waiting = submit(owner, inbox, subject="Tracked, waiting", track=True)
    mark(sent, SendStatus.SENT, sent_at=timezone.now() - timedelta(hours=2))
    with transaction.atomic():
        events.write_events(
            [
                Hit(
                    TrackingKind.OPEN,
                    sent.message_id,
                    timezone.now() - timedelta(hours=1),
                    None,
                    "198.51.100.7",
                    SAFARI,
                )
                for _ in range(3)
            ]
        )
    html = ledger_page(client, owner)
    row_of = {
        subject: html[html.index(subject) : html.index("</tr>", html.index(subject))]
        for subject in ("Tracked and sent", "Tracked, waiting")
    }
    assert 'data-label="Opens">3<' in row_of["Tracked and sent"]
    assert 'data-label="Opens">3<' not in row_of["Tracked, waiting"]
    assert "Not tracked, or not sent" in row_of["Tracked, waiting"]
    assert waiting.status == SendStatus.QUEUED


def test_an_action_from_the_ledger_is_the_senders_or_an_admins(
    client, owner, teammate, admin_user, inbox, contact
):
    outbound = submit(owner, inbox, scheduled_at=timezone.now() + timedelta(days=1))
    cancel = reverse("mailboxes:ledger-action", args=[outbound.message_id, "cancel"])

    client.force_login(teammate)
    assert client.post(cancel).status_code == 404
    assert Outbound.objects.get(pk=outbound.pk).status == SendStatus.SCHEDULED

    client.force_login(owner)
    row = client.post(cancel, headers={"HX-Request": "true"})
    assert row.status_code == 200
    html = row.content.decode()
    assert html.lstrip().startswith(f'<tr id="ledger-row-{outbound.message_id}"')
    assert "Cancelled" in html and "Send now" not in html
    assert Outbound.objects.get(pk=outbound.pk).status == SendStatus.CANCELLED

    # What the state no longer allows is said, not done.
    again = reverse("mailboxes:ledger-action", args=[outbound.message_id, "send-again"])
    response = client.post(again, {"next": LEDGER + "?status=cancelled"}, follow=True)
    assert response.redirect_chain[-1][0] == LEDGER + "?status=cancelled"
    assert "can&#x27;t be sent again: it is cancelled" in response.content.decode()
    # A "next" elsewhere is not followed.
    response = client.post(again, {"next": "https://evil.example/"})
    assert response["Location"] == LEDGER

    other = submit(owner, inbox, scheduled_at=timezone.now() + timedelta(days=1))
    client.force_login(admin_user)
    send_now = reverse("mailboxes:ledger-action", args=[other.message_id, "send-now"])
    assert client.post(send_now).status_code == 302
    assert Outbound.objects.get(pk=other.pk).status == SendStatus.QUEUED


def test_a_ledger_page_costs_the_same_queries_however_many_rows(
    client, owner, inbox, contact, django_assert_max_num_queries
):
    def write(n):
        for i in range(n):
            outbound = submit(owner, inbox, subject=f"Email {i}", track=True)
            mark(outbound, SendStatus.SENT, sent_at=timezone.now())

    def queries() -> int:
        with django_assert_max_num_queries(7) as captured:
            assert client.get(LEDGER).status_code == 200
        return len(captured)

    client.force_login(owner)
    write(2)
    few = queries()
    write(20)
    assert queries() == few


def test_the_top_bar_email_opens_the_ledger_and_inbox_settings_moved_under_settings(client, owner):
    client.force_login(owner)
    html = client.get(LEDGER).content.decode()
    assert f'<a href="{LEDGER}" aria-current="page">Email</a>' in html
    assert reverse("mailboxes:settings") == "/settings/email/inboxes/"
    old = client.get("/settings/email/")
    assert old.status_code == 302 and old["Location"] == "/settings/email/inboxes/"
    settings_page = client.get(old["Location"]).content.decode()
    assert '<nav class="subnav settings-nav" aria-label="Settings">' in settings_page
    assert 'aria-current="page">Connected inboxes</a>' in settings_page


def test_the_ledger_pages_newest_first(client, owner, inbox, contact):
    for i in range(27):
        submit(owner, inbox, subject=f"Email number {i:02}")
    first = ledger_page(client, owner)
    assert "27 emails" in first and rows(first) == 25
    assert first.index("Email number 26") < first.index("Email number 25")
    second = ledger_page(client, owner, page=2)
    assert rows(second) == 2 and "Email number 00" in second and "Page 2 of 2" in second
