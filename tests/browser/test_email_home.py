"""A rep's email as a new user finds it: the timeline card of each state, the ledger behind the
top bar's "Email", and "sent today" under Settings > Email, at desktop and phone widths.

Email goes out through the real sending worker to the SMTP sink; opens and clicks are real
requests on the email's own tracking URLs, as a recipient's mail client, Apple's privacy
proxy and a security gateway would make them.
"""

import re
from datetime import UTC, timedelta
from email import message_from_bytes, policy
from pathlib import Path

import pytest
import requests
from django.utils import timezone
from playwright.sync_api import expect

from mailboxes.models import Outbound
from mailboxes.outbox import sending
from records.constants import RecordAccess
from tests import clock
from tests.browser.conftest import PHONE, settings_menu
from tests.factories import ContactFactory, UserFactory
from tests.mailboxes.inboxes import imap_mailbox, offline_mailbox
from tests.mailboxes.outbox import submit

pytestmark = [
    pytest.mark.browser,
    # The SMTP sink takes AUTH without TLS on purpose (loopback only).
    pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning"),
]
SCREENSHOTS = Path("/tmp/ledger-screens")
HTML = '<p>Hello Olivia, the <a href="https://shop.example/pricing">pricing</a> is ready.</p>'
SAFARI = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Safari/605.1.15"
)
REFUSED = "o.owned@home.example"


@pytest.fixture
def inbox(owner, dovecot, smtp_sink, settings):
    settings.TRACKING_BUFFER = "direct"  # each hit written by its request, no flush to wait for
    smtp_sink.handler.recipient_replies[REFUSED] = "550 5.1.1 No such user"
    return imap_mailbox(owner, dovecot, smtp_sink)


@pytest.fixture
def emails(owner, inbox, contact, live_server, smtp_sink):
    """One email of each state on Olivia's timeline; the sent one opened and clicked by her,
    by Apple's privacy proxy and by a security gateway."""
    sent = submit(owner, inbox, subject="Pricing", html=HTML, track=True)
    failed = submit(owner, inbox, to=(REFUSED,), subject="Contract")
    sending.send_due()
    # Hits this soon after the send would be taken for pre-fetchers: the send was earlier.
    Outbound.objects.filter(pk=sent.pk).update(sent_at=timezone.now() - timedelta(hours=3))
    # The tracking URLs as the recipient got them.
    (received,) = [
        m
        for m in (message_from_bytes(m.data, policy=policy.default) for m in smtp_sink.messages)
        if m["Subject"] == "Pricing"
    ]
    body = received.get_body(("html",)).get_content()
    pixel = re.search(r'src="[^"]*(/t/o/[^"]+)"', body).group(1)
    link = re.search(r'href="[^"]*(/t/c/[^"]+)"', body).group(1)
    for path, agent in (
        (pixel, SAFARI),
        (link, SAFARI),
        (pixel, "Mozilla/5.0"),  # Apple Mail Privacy Protection
        (link, "Mimecast URL Protect"),
    ):
        answer = requests.get(
            live_server.url + path, headers={"User-Agent": agent}, allow_redirects=False
        )
        assert answer.status_code in (200, 302)
    scheduled = submit(
        owner, inbox, subject="Next week", scheduled_at=timezone.now() + timedelta(days=3)
    )
    queued = submit(owner, inbox, subject="Agenda")
    states = {o.message.subject: Outbound.objects.get(pk=o.pk).status for o in (sent, failed)}
    assert states == {"Pricing": "sent", "Contract": "failed"}
    return {"sent": sent, "failed": failed, "scheduled": scheduled, "queued": queued}


def card(page, subject):
    return page.locator("#timeline-items > li.activity-email").filter(has_text=subject)


def shoot(page, name, width):
    SCREENSHOTS.mkdir(exist_ok=True)
    used = page.evaluate("document.documentElement.scrollWidth")
    assert used <= width, f"{name}: the page is {used} px wide at {width}"
    page.screenshot(path=SCREENSHOTS / f"{name}-{width}.png", full_page=True)


def test_timeline_cards_show_each_state_with_its_title_counters_and_actions(
    page, new_page, login, contact, emails
):
    phone = new_page(viewport=PHONE, is_mobile=True, has_touch=True)
    for shot, width in ((page, 1280), (phone, PHONE["width"])):
        login(shot, "owner")
        shot.goto(f"/records/contacts/{contact.pk}/")

        sent = card(shot, "Pricing")
        expect(sent.locator(".kind")).to_have_text("Email sent")
        expect(sent.locator(".email-engagement")).to_contain_text("Opened 1×")
        expect(sent.locator(".email-engagement")).to_contain_text("Clicked 1×")
        sent.get_by_text("Opens and clicks").click()
        people = sent.get_by_role("list", name="By people").get_by_role("listitem")
        expect(people).to_have_count(2)
        expect(people.nth(0)).to_contain_text("Clicked https://shop.example/pricing")
        expect(people.nth(0).locator("time")).to_have_text(re.compile(r"\d{4} \d\d:\d\d$"))
        expect(people.nth(1)).to_contain_text("Opened")
        machines = sent.get_by_role("list", name="Not counted").get_by_role("listitem")
        expect(machines).to_have_count(2)
        expect(machines.filter(has_text="Opened")).to_contain_text(
            "Privacy proxy: Apple Mail Privacy Protection"
        )
        expect(machines.filter(has_text="Clicked")).to_contain_text(
            "Security scanner: Mimecast URL Protect"
        )
        for role, label in (("link", "Reply"), ("link", "Forward"), ("button", "Delete from CRM")):
            expect(sent.get_by_role(role, name=label, exact=True)).to_be_visible()

        for subject, title, offered in (
            ("Contract", "Email not sent", ["Try again", "Delete from CRM"]),
            ("Next week", "Email scheduled", ["Send now", "Cancel"]),
            ("Agenda", "Email queued", ["Send now", "Cancel"]),
        ):
            item = card(shot, subject)
            expect(item.locator(".kind")).to_have_text(title)
            expect(item.locator(".email-engagement")).to_have_count(0)
            expect(item.get_by_text("Not opened")).to_have_count(0)
            expect(item.locator(".email-actions button")).to_have_text(offered)
            expect(item.get_by_role("link", name="Reply")).to_have_count(0)
        expect(card(shot, "Contract")).to_contain_text("No such user")
        shoot(shot, "timeline", width)

    card(page, "Contract").get_by_role("button", name="Try again").click()
    retried = card(page, "Contract")
    expect(retried.locator(".kind")).to_have_text("Email queued")
    expect(retried.locator(".email-actions button")).to_have_text(["Send now", "Cancel"])


def test_the_ledger_lists_a_reps_email_filters_it_and_acts_on_it(
    page, new_page, login, owner, contact, emails
):
    colleague = UserFactory(username="colleague", record_access=RecordAccess.ALL)
    ContactFactory(first_name="Paul", owner=colleague, emails=["paul@beta.example"])
    submit(
        colleague,
        offline_mailbox(colleague, email="colleague@crm.example"),
        to=("paul@beta.example",),
        subject="Renewal for Paul",
    )
    login(page, "owner")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Email").click()
    expect(page.get_by_role("heading", name="Email", level=1)).to_be_visible()
    rows = page.locator("#ledger-results tbody tr")
    expect(rows).to_have_count(4)
    expect(page.locator("#ledger-results")).not_to_contain_text("Renewal for Paul")

    sent = rows.filter(has_text="Pricing")
    expect(sent.locator(".status")).to_have_text("Sent")
    expect(sent.locator('td[data-label="Opens"]')).to_have_text("1")
    expect(sent.locator('td[data-label="Clicks"]')).to_have_text("1")
    expect(sent.get_by_role("link", name=contact.name)).to_be_visible()
    expect(rows.filter(has_text="Contract")).to_contain_text("No such user")
    shoot(page, "ledger", 1280)

    page.get_by_label("Status").select_option("Scheduled")
    expect(rows).to_have_count(1)
    expect(page).to_have_url(re.compile(r"status=scheduled"))
    scheduled = rows.filter(has_text="Next week")
    scheduled.get_by_role("button", name="Cancel").click()
    expect(scheduled.locator(".status")).to_have_text("Cancelled")
    expect(scheduled.get_by_role("button")).to_have_count(0)
    assert Outbound.objects.get(pk=emails["scheduled"].pk).status == "cancelled"

    page.get_by_label("Status").select_option("Any status")
    page.get_by_label("Search recipient or subject").fill("agenda")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Agenda")

    phone = new_page(viewport=PHONE, is_mobile=True, has_touch=True)
    login(phone, "owner")
    phone.get_by_text("☰").tap()
    phone.get_by_role("navigation", name="Main").get_by_role("link", name="Email").tap()
    expect(phone.locator("#ledger-results tbody tr")).to_have_count(4)
    shoot(phone, "ledger", PHONE["width"])


def test_settings_show_sent_today_as_the_throttle_counts_it_in_a_reps_time_zone(
    page, new_page, login, owner, admin_user, contact, inbox
):
    owner.time_zone = "Asia/Kolkata"  # midnight UTC is 05:30 there
    owner.save()
    clock.inside_one(clock.DAY, needs=180)  # both pages read the same day's count
    for n in range(6):
        submit(owner, inbox, subject=f"Note {n}")
    sending.send_due()
    assert Outbound.objects.filter(status="sent").count() == 6

    phone = new_page(viewport=PHONE, is_mobile=True, has_touch=True)
    for shot, width in ((page, 1280), (phone, PHONE["width"])):
        login(shot, "owner")
        if shot is phone:
            shot.get_by_text("☰").tap()
        shot.get_by_role("navigation", name="Main").get_by_role("link", name="Settings").click()
        settings_nav = settings_menu(shot)
        expect(settings_nav.get_by_role("link", name="General")).to_have_attribute(
            "aria-current", "page"
        )
        settings_nav.get_by_role("group", name="Email").get_by_role(
            "link", name="Connected inboxes"
        ).click()
        if shot is phone:  # the folded menu names the page it is on
            expect(shot.locator(".settings-menu-label")).to_contain_text(
                "Settings: Connected inboxes"
            )
        expect(settings_menu(shot).get_by_role("link", name="Connected inboxes")).to_have_attribute(
            "aria-current", "page"
        )
        expect(shot.get_by_role("heading", name="Connected inboxes", level=1)).to_be_visible()
        expect(shot.locator(".send-usage")).to_contain_text("Sent today: 6 of 500")
        day = shot.locator("#sending-day")
        today = timezone.now().astimezone(UTC)
        expect(day).to_contain_text(f"counts {today:%A} {today.day} {today:%B %Y}")
        expect(day).to_contain_text("midnight to midnight UTC")
        expect(day).to_contain_text("In your time zone (Asia/Kolkata) that is")
        expect(day).to_contain_text("05:30 to")
        shoot(shot, "settings-inboxes", width)

    # An admin in California finds the same count among every inbox, under Account.
    admin_user.time_zone = "America/Los_Angeles"
    admin_user.save()
    admin_phone = new_page(viewport=PHONE, is_mobile=True, has_touch=True)
    for shot, width in ((new_page(), 1280), (admin_phone, PHONE["width"])):
        login(shot, "admin")
        shot.goto("/settings/")
        settings_nav = settings_menu(shot)
        # An admin's groups: their own, email, the account's, then the add-ons'.
        for group in ("You", "Email", "Account", "Transactional email", "Integrations"):
            expect(settings_nav.get_by_role("group", name=group, exact=True)).to_have_count(1)
        settings_nav.get_by_role("group", name="Account").get_by_role(
            "link", name="All inboxes"
        ).click()
        row = shot.get_by_role("row").filter(has_text="rep@crm.example")
        expect(row).to_contain_text(re.compile(r"\d+ of 20 / 6 of 500"))
        expect(shot.locator("#sending-day")).to_contain_text(
            "In your time zone (America/Los_Angeles) that is"
        )
        shoot(shot, "settings-all-inboxes", width)
