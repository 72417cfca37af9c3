"""The conversations inbox as a team works it: a member opens it from the top bar, reads a
conversation in the reading pane, filters and searches the list, and sees new mail arrive
without reloading (the list polls; an unchanged inbox answers 304). Screenshots at 1280 and
390 px go to /tmp/conversations-screens/."""

from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PHONE
from tests.browser.fit import assert_fits, assert_fits_both
from tests.mailboxes.conversations import TEAM, header

pytestmark = pytest.mark.browser
SCREENSHOTS = Path("/tmp/conversations-screens")


@pytest.fixture
def mail(team_desk, sync_page, settings):
    settings.CRM_CONVERSATIONS_POLL_SECONDS = 1
    # Ana wrote a week ago: a week always holds working hours, whatever the day and hour
    # the test runs, so she is past an hour's response target.
    [ana] = sync_page(
        team_desk,
        header(
            "ana.lima@client.example",
            name="Ana Lima",
            subject="The parcel arrived broken",
            minutes=-5 * 24 * 60,
        ),
    )
    [bo] = sync_page(team_desk, header("bo@other.example", name="Bo Berg", subject="Invoice 77"))
    sync_page(team_desk, header(TEAM, ["bo@other.example"], parent=bo.message_id, minutes=5))
    return ana


def view(page, name):
    return page.get_by_role("navigation", name="Filters").get_by_role("link", name=name, exact=True)


def row(page, text):
    return page.locator(".convo-item").filter(has_text=text)


def test_a_member_reads_filters_and_sees_new_mail_arrive(
    page, login, owner, team_desk, sync_page, mail
):
    from mailboxes.models import TeamInbox

    TeamInbox.objects.filter(pk=team_desk.team_inbox_id).update(response_target_minutes=60)
    login(page, owner.username)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Inbox").click()
    expect(page.get_by_role("heading", name="Support", level=1)).to_be_visible()
    expect(page.locator(".convo-item")).to_have_count(2)
    expect(row(page, "Ana Lima")).to_contain_text("New")
    expect(row(page, "Ana Lima")).to_contain_text("Waiting on us")
    expect(row(page, "Ana Lima")).to_contain_text("Past target")
    expect(row(page, "Bo Berg")).not_to_contain_text("Past target")
    assert_fits_both(page, SCREENSHOTS / "list")

    row(page, "Ana Lima").get_by_role("link").click()
    pane = page.get_by_role("region", name="Conversation", exact=True)
    expect(pane.get_by_role("heading", name="The parcel arrived broken")).to_be_visible()
    expect(pane.locator("iframe.email-frame")).to_have_count(1)
    body = pane.frame_locator("iframe.email-frame").locator("body")
    expect(body).to_contain_text("Hello, this is Ana Lima about The parcel arrived broken.")
    expect(page.locator(".messages")).to_have_count(0)
    expect(pane).to_contain_text("No contact you can open.")
    expect(row(page, "Ana Lima")).not_to_contain_text("New")
    assert_fits_both(page, SCREENSHOTS / "pane")

    # Filters and search.
    view(page, "Waiting on us").click()
    expect(page.locator(".convo-item")).to_have_count(1)
    view(page, "Open").click()
    page.get_by_label("Search subject, name or address").fill("invoice")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator(".convo-item")).to_have_count(1)
    expect(row(page, "Bo Berg")).to_be_visible()
    page.get_by_label("Search subject, name or address").fill("nobody")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_text("No conversation matches.")).to_be_visible()

    # New mail shows up while the page stays open.
    page.get_by_label("Search subject, name or address").fill("")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator(".convo-item")).to_have_count(2)
    sync_page(
        team_desk,
        header("cleo@third.example", name="Cleo Cruz", subject="Opening hours", minutes=60),
    )
    expect(row(page, "Cleo Cruz")).to_contain_text("New", timeout=8_000)
    expect(page.locator(".convo-item").first).to_contain_text("Cleo Cruz")


def test_on_a_phone_the_list_and_the_conversation_take_turns(
    new_page, login, owner, team_desk, mail
):
    phone = new_page(viewport=PHONE, is_mobile=True, has_touch=True)
    login(phone, owner.username)
    phone.goto(f"/conversations/{team_desk.pk}/")
    row(phone, "Ana Lima").get_by_role("link").click()
    expect(phone.get_by_role("heading", name="The parcel arrived broken")).to_be_visible()
    expect(phone.locator(".convo-item").first).to_be_hidden()
    assert_fits(phone, SCREENSHOTS / "phone-pane.png")
    phone.get_by_role("link", name="← All conversations").click()
    expect(row(phone, "Bo Berg")).to_be_visible()
    assert_fits(phone, SCREENSHOTS / "phone-list.png")


@pytest.fixture
def teammates_page(page, new_page, login, owner, teammate, mail):
    """The owner (`page`) and a teammate (the page returned) on the inbox, each signed in
    through the login form in a browser of their own."""
    other = new_page()
    login(page, owner.username)
    login(other, teammate.username)
    for p in (page, other):
        p.goto(f"/conversations/{mail.mailbox_id}/")
    return other


def test_two_teammates_work_a_conversation(page, teammates_page, teammate, mail, queued_jobs):
    from mailboxes.models import ConversationComment, Outbound

    other = teammates_page
    row(page, "Ana Lima").get_by_role("link").click()
    pane = page.get_by_role("region", name="Conversation", exact=True)

    # Assign to the teammate: their list shows it as theirs without a reload.
    pane.get_by_label("Assign to").select_option(label=teammate.display_name)
    pane.get_by_role("button", name="Assign").click()
    expect(page.get_by_text("Assigned.")).to_be_visible()
    expect(pane).to_contain_text(f"Assigned to {teammate.display_name}")
    expect(row(other, "Ana Lima")).to_contain_text(teammate.display_name, timeout=8_000)

    # An internal comment with a mention: shown to the team, never emailed.
    pane.get_by_label("Internal comment").fill(f"@{teammate.username} the parcel photo is in")
    pane.get_by_role("button", name="Add comment").click()
    expect(page.get_by_text("Comment added. It was not emailed.")).to_be_visible()
    expect(pane.locator(".convo-comment")).to_contain_text("the parcel photo is in")
    assert ConversationComment.objects.get().mentioned.get() == teammate
    assert not Outbound.objects.exists()

    # A reply with no recipient is refused with the words kept; then it goes.
    pane.get_by_text("Reply from help@crm.example").click()
    pane.get_by_role("textbox", name="To", exact=True).fill(" , ")
    pane.get_by_label("Message").fill("Sorry about that, Ana: a new one is on its way.")
    pane.get_by_role("button", name="Send reply").click()
    expect(pane.get_by_text("Add at least one recipient.")).to_be_visible()
    expect(pane.get_by_label("Message")).to_have_value(
        "Sorry about that, Ana: a new one is on its way."
    )
    assert_fits_both(page, SCREENSHOTS / "reply-refused")
    pane.get_by_role("textbox", name="To", exact=True).fill("ana.lima@client.example")
    pane.get_by_role("button", name="Send reply").click()
    expect(page.get_by_text("Reply queued from help@crm.example.")).to_be_visible()
    expect(pane.locator("iframe.email-frame")).to_have_count(2)
    expect(row(page, "Ana Lima")).not_to_contain_text("Waiting on us")
    assert Outbound.objects.get().message.mailbox_id == mail.mailbox_id

    # Forward the latest email to someone outside: sent, shown, and no answer to Ana.
    pane.get_by_text("Forward the latest email").click()
    pane.get_by_label("Forward to").fill("courier@parcels.example")
    pane.get_by_label("Note").fill("Please collect the broken parcel.")
    pane.get_by_role("button", name="Forward", exact=True).click()
    expect(page.get_by_text("Forwarded. It does not count as an answer.")).to_be_visible()
    expect(pane.locator("iframe.email-frame")).to_have_count(3)
    assert Outbound.objects.count() == 2

    # Snooze: the past is refused; a time ahead hides it from Open, for the teammate too.
    pane.get_by_label("Snooze until").fill("2020-01-01T09:00")
    pane.get_by_role("button", name="Snooze").click()
    expect(pane.get_by_text("Choose a time in the future.")).to_be_visible()
    pane.get_by_label("Snooze until").fill("2099-01-01T09:00")
    pane.get_by_role("button", name="Snooze").click()
    expect(page.get_by_text("Snoozed.")).to_be_visible()
    expect(row(page, "Ana Lima")).to_have_count(0)
    expect(row(other, "Ana Lima")).to_have_count(0, timeout=8_000)
    assert_fits_both(page, SCREENSHOTS / "snoozed")
    pane.get_by_role("button", name="Wake now").click()
    expect(row(page, "Ana Lima")).to_be_visible()

    # Close: gone from Open, found under Closed, and reopened from there.
    pane.get_by_role("button", name="Close").click()
    expect(page.get_by_text("Closed.")).to_be_visible()
    expect(row(page, "Ana Lima")).to_have_count(0)
    expect(row(other, "Ana Lima")).to_have_count(0, timeout=8_000)
    view(page, "Closed").click()
    row(page, "Ana Lima").get_by_role("link").click()
    page.get_by_role("button", name="Reopen").click()
    expect(page.get_by_text("Reopened.")).to_be_visible()
    expect(row(other, "Ana Lima")).to_be_visible(timeout=8_000)


def test_a_teammate_writing_a_reply_is_shown_and_a_second_answer_warned(
    page, teammates_page, teammate, queued_jobs
):
    from mailboxes.models import Outbound

    sara = teammates_page
    for p in (page, sara):
        row(p, "Ana Lima").get_by_role("link").click()
    presence = page.locator("#convo-presence")
    expect(presence).to_contain_text(f"{teammate.display_name} is viewing", timeout=8_000)

    sara.get_by_text("Reply from help@crm.example").click()
    expect(presence).to_contain_text(f"{teammate.display_name} is replying", timeout=8_000)
    assert_fits_both(page, SCREENSHOTS / "teammate-replying")

    pane = page.get_by_role("region", name="Conversation", exact=True)
    pane.get_by_text("Reply from help@crm.example").click()
    pane.get_by_label("Message").fill("We are sending a new parcel today.")
    pane.get_by_role("button", name="Send reply").click()
    expect(pane.get_by_role("alert")).to_contain_text(
        f"{teammate.display_name} is replying to this conversation too"
    )
    assert not Outbound.objects.exists()
    assert_fits_both(page, SCREENSHOTS / "second-answer-warned")
    pane.get_by_label("Send mine anyway").check()
    pane.get_by_role("button", name="Send reply").click()
    expect(page.get_by_text("Reply queued from help@crm.example.")).to_be_visible()
    assert Outbound.objects.count() == 1


def test_an_admin_turns_on_round_robin_with_a_cap(page, login, admin_user, team_desk):
    from mailboxes.models import TeamInbox

    login(page, admin_user.username)
    page.goto(f"/settings/inboxes/{team_desk.team_inbox_id}/")
    page.get_by_label("Assign in turn within the team (round robin)").check()
    page.get_by_label("Open conversations per person at most").fill("5")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Saved.")).to_be_visible()
    inbox = TeamInbox.objects.get(pk=team_desk.team_inbox_id)
    assert inbox.round_robin and inbox.open_cap == 5
    assert_fits_both(page, SCREENSHOTS / "round-robin-settings")


def test_the_connect_page_says_a_team_address_is_seen_by_the_whole_team(page, login, admin_user):
    from mailboxes.models import TeamInbox

    inbox = TeamInbox.objects.create(name="Sales desk", kind="conversations")
    login(page, admin_user.username)
    page.goto(f"/settings/inboxes/{inbox.pk}/")
    expect(
        page.get_by_text("All mail to a team address is visible to the whole team")
    ).to_be_visible()
    expect(page.get_by_role("button", name="Connect team address")).to_be_visible()
    assert_fits_both(page, SCREENSHOTS / "connect-team-address")


@pytest.fixture
def desk_ticket(team_desk, sync_page, owner, settings):
    """A help-desk inbox of the blue team with one conversation, its ticket the owner's."""
    from mailboxes.models import Conversation, TeamInbox
    from records.models import Ticket

    settings.CRM_CONVERSATIONS_POLL_SECONDS = 1
    TeamInbox.objects.filter(pk=team_desk.team_inbox_id).update(kind="help_desk")
    sync_page(
        team_desk,
        header("ana.lima@client.example", name="Ana Lima", subject="The parcel arrived broken"),
    )
    conversation = Conversation.objects.get()
    Ticket.objects.filter(pk=conversation.ticket_id).update(owner=owner)
    return conversation


def test_the_ticket_priority_is_set_from_the_pane_and_teammates_lists_show_it(
    page, new_page, login, owner, teammate, desk_ticket
):
    from records.models import Ticket

    other = new_page()
    login(page, owner.username)
    login(other, teammate.username)
    for p in (page, other):
        p.goto(f"/conversations/{desk_ticket.mailbox_id}/")
    expect(row(other, "Ana Lima")).to_contain_text("Medium")
    row(page, "Ana Lima").get_by_role("link").click()
    pane = page.get_by_role("region", name="Conversation", exact=True)
    expect(pane.get_by_label("Priority")).to_have_value("medium")
    pane.get_by_label("Priority").select_option(label="Urgent")
    pane.get_by_role("button", name="Save priority").click()
    expect(page.get_by_text("Priority saved.")).to_be_visible()
    expect(pane.get_by_label("Priority")).to_have_value("urgent")
    expect(row(page, "Ana Lima")).to_contain_text("Urgent")
    expect(row(other, "Ana Lima")).to_contain_text("Urgent", timeout=8_000)
    assert Ticket.objects.get(pk=desk_ticket.ticket_id).priority == "urgent"
    assert_fits_both(page, SCREENSHOTS / "priority")
    assert_fits_both(other, SCREENSHOTS / "priority-list")


def test_remote_images_load_only_when_a_member_shows_them(
    page, login, owner, team_desk, mail, images
):
    from mailboxes.models import ConversationMessage, EmailMessage

    link = ConversationMessage.objects.get(message=mail)
    EmailMessage.objects.filter(pk=link.message_id).update(
        html_body=f'<p>Photo of the parcel:</p><img src="{images.base}/logo.png" alt="Parcel">',
        body_parsed=True,
    )
    login(page, owner.username)
    page.goto(f"/conversations/{team_desk.pk}/?c={link.conversation_id}")
    pane = page.get_by_role("region", name="Conversation", exact=True)
    banner = pane.locator("[data-images-banner]")
    expect(banner).to_contain_text("Images are hidden")
    frame = pane.locator("iframe.email-frame").content_frame
    expect(frame.get_by_text("Photo of the parcel:")).to_be_visible()
    assert images.hits == []
    assert_fits_both(page, SCREENSHOTS / "images-hidden")

    banner.get_by_role("link", name="Show images").click()
    expect(banner.get_by_text("Images are hidden")).to_be_hidden()
    expect(frame.locator('img[alt="Parcel"]')).to_have_js_property("naturalWidth", 1)
    assert images.paths() == ["/logo.png"]

    banner.get_by_role("button", name="Always show images from ana.lima@client.example").click()
    expect(
        pane.get_by_text("Images from ana.lima@client.example are always shown.")
    ).to_be_visible()
    frame = pane.locator("iframe.email-frame").content_frame
    expect(frame.locator('img[alt="Parcel"]')).to_have_js_property("naturalWidth", 1)
    assert_fits_both(page, SCREENSHOTS / "images-always")
