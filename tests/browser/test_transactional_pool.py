"""Settings > Transactional email as an admin uses it, at 1280 and 390 px wide (screenshots
under /tmp/transactional-screens/): turning the add-on on, configuring the sending pool's
relay (an aiosmtpd sink), DKIM signing and its record, the test email, the deliverability
check (a local DNS server, which dnspython's default resolver is pointed at; the live server
runs in this process), and the queue's retry of deferred mail with its confirmation."""

from pathlib import Path

import dns.resolver
import pytest
from playwright.sync_api import expect

from mailboxes.constants import SendStatus
from tests.browser.conftest import open_settings
from tests.browser.fit import assert_fits, open_at
from tests.fakes.dns import FakeDnsServer
from tests.mailboxes.outbox import reload
from tests.transactional.pool import pool_for, queue
from transactional.pool import delivery
from transactional.pool.models import SendingPool

pytestmark = [
    pytest.mark.browser,
    pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning"),
]
SCREENSHOTS = Path("/tmp/transactional-screens")


@pytest.fixture
def fake_dns(monkeypatch, settings):
    settings.CRM_BASE_URL = "https://crm.shop.test"
    with FakeDnsServer() as server:
        monkeypatch.setattr(dns.resolver, "default_resolver", server.resolver())
        yield server


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_an_admin_sets_up_the_pool_tests_it_checks_dns_and_retries_deferred_mail(
    new_page, login, admin_user, smtp_sink, fake_dns, size
):
    page = open_at(new_page, size)
    width = page.viewport_size["width"]
    login(page, "admin")

    open_settings(page, "Add-on", exact=True)
    expect(page.locator("#addon-state")).to_contain_text("Transactional email is off")
    page.get_by_label("Transactional email is on").check()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Transactional email is on.", exact=True)).to_be_visible()
    expect(page.locator("#addon-state")).to_contain_text("The sending pool is not set up")
    assert_fits(page, SCREENSHOTS / f"addon-{width}.png")

    open_settings(page, "Sending pool", exact=True)
    expect(page.get_by_role("heading", name="Sending pool", level=1)).to_be_visible()
    # No TLS to a relay elsewhere: refused beside the field, what was typed kept.
    page.get_by_label("Relay host").fill("smtp.relay.test")
    page.get_by_label("Port").fill(str(smtp_sink.port))
    page.get_by_label("TLS").select_option("none")
    page.get_by_label("Username").fill(smtp_sink.user)
    page.get_by_label("Password").fill(smtp_sink.password)
    page.get_by_label("Default From address").fill("receipts@shop.test")
    page.get_by_role("button", name="Save relay").click()
    expect(page.locator("#relay").get_by_role("alert")).to_contain_text(
        "only a relay on this machine"
    )
    expect(page.get_by_label("Relay host")).to_have_value("smtp.relay.test")
    assert_fits(page, SCREENSHOTS / f"relay-refused-{width}.png")

    page.get_by_label("Relay host").fill("127.0.0.1")
    page.get_by_label("Password").fill(smtp_sink.password)
    page.get_by_role("button", name="Save relay").click()
    expect(page.get_by_text("Relay saved. Send a test email to check it.")).to_be_visible()
    expect(page.get_by_text("A password is saved (encrypted)")).to_be_visible()

    page.get_by_label("Sign with DKIM").check()
    page.get_by_role("button", name="Save DKIM").click()
    expect(page.get_by_text("A new 2048-bit key was made.")).to_be_visible()
    record = page.locator("#dkim-record")
    expect(record).to_contain_text("crm._domainkey.shop.test")
    expect(record).to_contain_text("v=DKIM1; k=rsa; p=")

    page.get_by_label("Send a test email to").fill("me@shop.test")
    page.get_by_role("button", name="Send test email").click()
    expect(page.get_by_text("127.0.0.1 accepted it")).to_be_visible()
    (received,) = smtp_sink.messages
    assert received.rcpt_tos == ["me@shop.test"] and b"DKIM-Signature:" in received.data

    # DNS has DMARC only: SPF and DKIM are missing, each with the record to publish.
    fake_dns.add("_dmarc.shop.test", "TXT", '"v=DMARC1; p=none"')
    page.get_by_role("button", name="Check DNS").click()
    expect(page.locator("#finding-spf")).to_contain_text("Missing")
    # The relay is on this machine: it delivers from the CRM's own host (CRM_BASE_URL's).
    expect(page.locator("#finding-spf")).to_contain_text("v=spf1 a:crm.shop.test ~all")
    expect(page.locator("#finding-dkim")).to_contain_text("Missing")
    expect(page.locator("#finding-dmarc")).to_contain_text("Found")
    assert_fits(page, SCREENSHOTS / f"pool-{width}.png")

    # Mail to a domain whose server defers it, and mail that went.
    smtp_sink.refuse("bob@slow.test", "451 4.3.0 Mailbox busy, try later")
    deferred, sent = queue("bob@slow.test"), queue("ada@fast.test")
    delivery.deliver_due(seconds=5)
    assert reload(deferred).status == SendStatus.DEFERRED

    open_settings(page, "Queue", exact=True)
    expect(page.get_by_role("heading", name="Transactional queue")).to_be_visible()
    row = page.locator(f"#queue-row-{deferred.pk}")
    expect(row).to_contain_text("Deferred")
    expect(row).to_contain_text("451 4.3.0 Mailbox busy, try later")
    expect(row).to_contain_text("Next try")
    expect(page.locator(f"#queue-row-{sent.pk}")).to_contain_text("Sent")
    assert_fits(page, SCREENSHOTS / f"queue-{width}.png")

    page.get_by_role("navigation", name="States").get_by_role("link", name="Deferred").click()
    expect(page.locator(f"#queue-row-{sent.pk}")).to_have_count(0)
    smtp_sink.handler.recipient_replies.clear()
    page.get_by_label("Choose the email to bob@slow.test").check()
    page.get_by_role("button", name="Retry now").click()
    expect(page.locator("#confirm-what")).to_contain_text(
        "1 deferred email will be offered to the relay again now"
    )
    assert_fits(page, SCREENSHOTS / f"queue-confirm-{width}.png")
    page.get_by_role("button", name="Retry now").click()
    expect(page.get_by_text("1 deferred email will be tried again now.")).to_be_visible()
    assert reload(deferred).status == SendStatus.QUEUED
    assert delivery.deliver(deferred.pk) == SendStatus.SENT
    assert SendingPool.load().enabled


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_an_admin_sends_uncertain_mail_again_or_records_it_as_sent(
    new_page, login, admin_user, smtp_sink, size
):
    pool_for(smtp_sink)
    # The relay stores each message, then the connection drops before its answer.
    smtp_sink.handler.lose_answer = lambda n: "stored" if n <= 2 else None
    ada, bob = queue("ada@client.test"), queue("bob@client.test")
    for row in (ada, bob):
        assert delivery.deliver(row.pk) == SendStatus.UNCERTAIN
    page = open_at(new_page, size)
    width = page.viewport_size["width"]
    login(page, "admin")

    open_settings(page, "Queue", exact=True)
    page.get_by_role("navigation", name="States").get_by_role("link", name="Uncertain").click()
    expect(page.locator(f"#queue-row-{ada.pk}")).to_contain_text("may have gone out")
    assert_fits(page, SCREENSHOTS / f"queue-uncertain-{width}.png")

    page.get_by_label("Choose the email to ada@client.test").check()
    page.get_by_role("button", name="Send again", exact=True).click()
    expect(page.locator("#confirm-what")).to_contain_text("its recipient may get it twice")
    assert_fits(page, SCREENSHOTS / f"queue-send-again-{width}.png")
    page.get_by_role("button", name="Send again, maybe twice").click()
    expect(page.get_by_text("1 uncertain email will be sent again.")).to_be_visible()
    assert reload(ada).status == SendStatus.QUEUED
    assert delivery.deliver(ada.pk) == SendStatus.SENT
    assert [m.rcpt_tos for m in smtp_sink.messages].count(["ada@client.test"]) == 2

    page.get_by_label("Choose the email to bob@client.test").check()
    page.get_by_role("button", name="It was sent").click()
    expect(page.locator("#confirm-what")).to_contain_text("recorded as sent and not sent again")
    assert_fits(page, SCREENSHOTS / f"queue-mark-sent-{width}.png")
    page.get_by_role("button", name="It was sent").click()
    expect(page.get_by_text("1 uncertain email was recorded as sent.")).to_be_visible()
    assert reload(bob).status == SendStatus.SENT
    expect(page.locator(f"#queue-row-{bob.pk}")).to_have_count(0)  # no longer uncertain
    assert_fits(page, SCREENSHOTS / f"queue-after-{width}.png")
