"""Settings > Transactional email > Webhooks as an admin uses it, at 1280 and 390 px wide
(screenshots under /tmp/transactional-screens/): a refused http:// address, adding an endpoint
(a real HTTP server on loopback) and copying its signing secret, "Send test event", reading
the delivery log (a 500, then the retry's 200), and "Redeliver". The worker's passes run in
the test, as the queue's worker would run them."""

from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.browser.conftest import open_settings
from tests.browser.fit import SIZES, assert_fits, open_at
from tests.transactional.receiver import WebhookReceiver, verify
from transactional.events import webhooks
from transactional.events.models import WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.browser
SCREENSHOTS = Path("/tmp/transactional-screens")


def open_webhooks(page) -> None:
    open_settings(page, "Webhooks", exact=True)
    expect(page.get_by_role("heading", name="Webhooks", level=1)).to_be_visible()


def run_worker() -> None:
    """The worker's pass, after the retry's wait is over."""
    WebhookDelivery.objects.filter(status="pending").update(next_attempt_at=timezone.now())
    webhooks.deliver_due(seconds=5)


@pytest.mark.parametrize("size", SIZES)
def test_an_admin_adds_an_endpoint_sends_a_test_event_reads_the_log_and_redelivers(
    new_page, login, admin_user, size
):
    page = open_at(new_page, size)
    width = page.viewport_size["width"]
    login(page, "admin")
    open_webhooks(page)
    expect(page.get_by_text("No endpoint yet.")).to_be_visible()

    with WebhookReceiver(script=[500]) as receiver:
        page.get_by_text("Add endpoint", exact=True).first.click()
        page.get_by_label("Endpoint URL").fill("http://hooks.shop.test/crm")
        page.get_by_label("Description").fill("Order system")
        page.get_by_role("button", name="Add endpoint").click()
        # Refused with its reason, and nothing typed is lost.
        expect(page.get_by_text("Give an https:// address.")).to_be_visible()
        expect(page.get_by_label("Description")).to_have_value("Order system")
        assert_fits(page, SCREENSHOTS / f"webhooks-error-{width}.png")

        page.get_by_label("Endpoint URL").fill(receiver.url)
        page.get_by_label("Bounced").uncheck()
        page.get_by_role("button", name="Add endpoint").click()
        expect(page.get_by_text("Enabled · Order system")).to_be_visible()
        types = WebhookEndpoint.objects.get().event_types
        assert "email.bounced" not in types and "email.sent" in types
        expect(
            page.get_by_role("alert").filter(has_text="You won't see this secret again.")
        ).to_be_visible()
        secret = page.get_by_label("Signing secret", exact=True).input_value()
        assert secret.startswith("whsec_")
        assert_fits(page, SCREENSHOTS / f"webhook-secret-{width}.png")

        page.get_by_role("button", name="Send test event").click()
        expect(page.get_by_text("Test event queued")).to_be_visible()
        expect(page.get_by_label("Signing secret", exact=True)).to_have_count(0)  # shown once
        expect(page.locator(".webhook-log")).to_contain_text("webhook.test")
        expect(page.locator(".webhook-log")).to_contain_text("not tried yet")

        run_worker()  # the endpoint answers 500: tried again later
        page.reload()
        row = page.locator(".webhook-log tbody tr").first
        expect(row).to_contain_text("Pending")
        expect(row).to_contain_text("Next try")
        row.get_by_text("1 attempt").click()
        expect(row.locator("pre.snippet")).to_have_text("upstream trouble")
        expect(row.get_by_role("button", name="Redeliver")).to_have_count(0)

        run_worker()  # 200 this time
        page.reload()
        row = page.locator(".webhook-log tbody tr").first
        expect(row).to_contain_text("Delivered")
        row.get_by_text("2 attempts").click()
        expect(row).to_contain_text("200")
        assert_fits(page, SCREENSHOTS / f"webhook-log-{width}.png")

        row.get_by_role("button", name="Redeliver").click()
        expect(page.get_by_text("queued again, with the same id")).to_be_visible()
        run_worker()
        page.reload()
        row = page.locator(".webhook-log tbody tr").first
        row.get_by_text("3 attempts").click()
        expect(row).to_contain_text("Delivered")

    # Rotate the secret (after confirming): a new one, shown once; then delete the endpoint.
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Rotate secret").click()
    rotated = page.get_by_label("Signing secret", exact=True).input_value()
    assert rotated.startswith("whsec_") and rotated != secret
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete").click()
    expect(page.get_by_text("No endpoint yet.")).to_be_visible()
    expect(page.get_by_text("deleted.")).to_be_visible()

    assert len(receiver.received) == 3 and len(receiver.unique()) == 1
    for got in receiver.received:
        verify(secret, got)
        assert got.json["type"] == "webhook.test"
