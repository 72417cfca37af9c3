"""Settings > System health: an admin sees which part fails and why, on a desktop and a phone
(screenshots at 1280 and 390 px under /tmp/stack-screens/)."""

from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import expect

from crm_mail import heartbeats
from tests.browser.conftest import PHONE, settings_menu
from tests.browser.fit import assert_fits, open_at
from tests.browser.test_phone import assert_fits_the_screen

pytestmark = pytest.mark.browser
SCREENSHOTS = Path("/tmp/stack-screens")


def everything_but_the_send_worker_beats() -> None:
    queues = [q for q in settings.CRM_QUEUES if q != "send"]
    heartbeats.record(heartbeats.BEAT, *map(heartbeats.queue_key, queues))


def open_health_page(page, login) -> None:
    login(page, "admin")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Settings").click()
    settings_menu(page).get_by_role("link", name="System health").click()
    expect(page.get_by_role("heading", name="System health", level=1)).to_be_visible()


def test_admin_sees_the_silent_queue_then_everything_working(page, login, admin_user):
    everything_but_the_send_worker_beats()
    open_health_page(page, login)

    expect(page.get_by_text("Something needs attention")).to_be_visible()
    send = page.locator(".health li").filter(has_text="Worker of the send queue")
    expect(send).to_contain_text("Problem")
    expect(send).to_contain_text("no worker took a job (no heartbeat yet)")
    sync = page.locator(".health li").filter(has_text="Worker of the sync queue")
    expect(sync).to_contain_text("OK")
    expect(sync).to_contain_text("last heartbeat")
    expect(page.locator(".health li").filter(has_text="Outgoing email")).to_contain_text(
        "no email waits to be sent"
    )
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "health-problem-1280.png", full_page=True)

    # The send worker comes back; the admin looks again.
    heartbeats.record(heartbeats.queue_key("send"))
    page.get_by_role("link", name="Check again").click()
    expect(page.get_by_text("Everything works")).to_be_visible()
    expect(send).to_contain_text("OK")
    expect(page.get_by_text("Problem")).to_have_count(0)


def test_the_health_page_fits_a_phone(new_page, login, admin_user):
    everything_but_the_send_worker_beats()
    phone = new_page(viewport=PHONE, is_mobile=True, has_touch=True)
    login(phone, "admin")
    phone.goto("/settings/health/")
    expect(phone.get_by_text("Something needs attention")).to_be_visible()
    expect(phone.locator(".health li").filter(has_text="Worker of the send queue")).to_contain_text(
        "no worker took a job"
    )
    assert_fits_the_screen(phone)
    SCREENSHOTS.mkdir(exist_ok=True)
    phone.screenshot(path=SCREENSHOTS / "health-problem-390.png", full_page=True)


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_admin_reads_that_no_system_email_is_configured(
    new_page, login, admin_user, settings, size
):
    settings.CRM_SYSTEM_EMAIL_URL = ""  # production's default
    page = open_at(new_page, size)
    login(page, "admin")
    page.goto("/settings/health/")
    note = page.locator(".message.warning")
    expect(note).to_contain_text("System email is not configured (CRM_SYSTEM_EMAIL_URL)")
    expect(note).to_contain_text("sequence task reminders")
    assert_fits(page, SCREENSHOTS / f"health-no-system-email-{size}.png")
