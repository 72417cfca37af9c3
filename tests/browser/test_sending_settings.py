"""Settings > Email > Sending and one inbox's limits as an admin uses them, at 1280 and 390 px
wide (screenshots under /tmp/sending-screens/): the providers' caps beside the fields, a limit
over a cap refused with what was typed kept, a tracking domain with its CNAME and the DNS
check's answer.

DNS answers come from tests/fakes/dns.py: dnspython's default resolver, which the page's check
asks, is pointed at it; the live server runs in this process.
"""

from pathlib import Path

import dns.resolver
import pytest
from playwright.sync_api import expect

from mailboxes.constants import Provider
from mailboxes.models import Mailbox, SendingSettings
from tests.browser.conftest import open_settings
from tests.browser.fit import assert_fits, open_at
from tests.fakes.dns import FakeDnsServer
from tests.mailboxes.test_views import personal

pytestmark = pytest.mark.browser
SCREENSHOTS = Path("/tmp/sending-screens")
BASE_HOST = "crm.acme.test"


@pytest.fixture
def fake_dns(monkeypatch, settings):
    settings.CRM_BASE_URL = f"https://{BASE_HOST}"
    with FakeDnsServer() as server:
        server.add(BASE_HOST, "A", "10.0.0.5")
        monkeypatch.setattr(dns.resolver, "default_resolver", server.resolver())
        yield server


def open_sending_page(page, login) -> None:
    login(page, "admin")
    open_settings(page, "Sending", exact=True)
    expect(page.get_by_role("heading", name="Sending", level=1)).to_be_visible()


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_an_admin_sets_limits_within_the_caps_and_a_tracking_domain(
    new_page, login, admin_user, fake_dns, size
):
    page = open_at(new_page, size)
    width = page.viewport_size["width"]
    open_sending_page(page, login)

    workspace = page.locator("#plan-workspace")
    expect(workspace).to_contain_text("Google Workspace")
    expect(workspace).to_contain_text("2,000 recipients a day")
    expect(page.locator("#plan-exchange_online")).to_contain_text(
        "30 emails a minute, 10,000 recipients a day"
    )
    expect(page.locator("#plan-other")).to_contain_text("no cap: the server's admin decides")

    # Over Google Workspace's cap: refused beside the field, what was typed still there.
    page.get_by_label("Google Workspace: Recipients a day").fill("2500")
    page.get_by_label("Other servers (IMAP/SMTP): Recipients a day").fill("900")
    page.get_by_role("button", name="Save limits").click()
    expect(workspace.get_by_role("alert")).to_have_text(
        "Google Workspace allows at most 2,000 recipients a day."
    )
    expect(page.get_by_label("Google Workspace: Recipients a day")).to_have_value("2500")
    expect(page.get_by_label("Other servers (IMAP/SMTP): Recipients a day")).to_have_value("900")
    assert not SendingSettings.objects.exists()
    assert_fits(page, SCREENSHOTS / f"limit-over-cap-{width}.png")

    page.get_by_label("Google Workspace: Recipients a day").fill("1500")
    page.get_by_role("button", name="Save limits").click()
    expect(page.get_by_text("New inboxes will start with these limits.")).to_be_visible()
    assert SendingSettings.load().new_inbox_limits["workspace"]["day"] == 1500

    # A URL is not a host name.
    page.get_by_role("textbox", name="Tracking domain").fill("https://links.acme.test")
    page.get_by_role("button", name="Save", exact=True).click()
    field = page.locator("#tracking-domain .field")
    expect(field.get_by_role("alert")).to_contain_text("Type the host name only")
    expect(page.get_by_role("textbox", name="Tracking domain")).to_have_value(
        "https://links.acme.test"
    )

    # A name nobody created yet: the record to create, and what DNS says of it.
    page.get_by_role("textbox", name="Tracking domain").fill("links.acme.test")
    page.get_by_role("button", name="Check DNS").click()
    expect(page.locator("#cname-record")).to_have_text(f"links.acme.test. CNAME {BASE_HOST}.")
    expect(page.locator("#dns-check")).to_contain_text("Does not exist")
    expect(page.locator("#dns-check")).to_contain_text("links.acme.test does not exist in DNS.")
    expect(page.get_by_role("alert").filter(has_text="The DNS check did not pass")).to_be_visible()
    expect(page.locator("#links-use")).to_contain_text(f"https://{BASE_HOST}")
    assert_fits(page, SCREENSHOTS / f"tracking-missing-{width}.png")

    # The admin creates the record: it resolves, and the page says what the server still needs.
    fake_dns.add("links.acme.test", "CNAME", f"{BASE_HOST}.")
    page.get_by_role("button", name="Check DNS").click()
    expect(page.locator("#dns-check")).to_contain_text("Resolves to this CRM")
    expect(page.locator("#allowed-host")).to_contain_text(
        "Set CRM_TRACKING_HOST=links.acme.test in the server's environment"
    )
    expect(page.locator("#links-use")).to_contain_text(f"https://{BASE_HOST}")
    assert_fits(page, SCREENSHOTS / f"tracking-resolves-{width}.png")


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_an_admin_changes_one_inboxs_limits_within_its_cap(
    new_page, login, admin_user, owner, size
):
    box = personal(owner, "ana@contoso.example", provider=Provider.OFFICE365)
    page = open_at(new_page, size)
    width = page.viewport_size["width"]
    login(page, "admin")
    page.goto("/settings/connected-inboxes/")
    page.get_by_role("link", name="Change the sending limits of ana@contoso.example").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Sending limits of ana@contoso.example"
    )

    page.get_by_label("Emails a minute").fill("45")
    page.get_by_role("button", name="Save limits").click()
    expect(page.get_by_role("alert")).to_have_text(
        "Office 365 / Exchange Online allows at most 30 emails a minute."
    )
    expect(page.get_by_label("Emails a minute")).to_have_value("45")
    assert_fits(page, SCREENSHOTS / f"inbox-limit-over-cap-{width}.png")

    page.get_by_label("Emails a minute").fill("25")
    page.get_by_label("Recipients a day").fill("8000")
    page.get_by_role("button", name="Save limits").click()
    expect(
        page.get_by_text("ana@contoso.example now sends at most 25 emails a minute")
    ).to_be_visible()
    expect(page.get_by_role("row").filter(has_text="ana@contoso.example")).to_contain_text(
        "0 of 25 / 0 of 8000"
    )
    assert_fits(page, SCREENSHOTS / f"all-inboxes-{width}.png")
    box.refresh_from_db()
    assert (box.send_per_minute, box.send_per_day) == (25, 8000)
    assert Mailbox.objects.count() == 1
