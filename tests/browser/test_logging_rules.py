"""Settings > Email > Logging as an admin uses it: the own domain offered by default, a bad
entry refused beside the field with what was typed kept, then saved with a notice. At 1280
and 390 px, screenshots under /tmp/pages-screens/."""

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from mailboxes.models import LoggingRules
from tests.browser.conftest import open_settings
from tests.browser.fit import SIZES, assert_fits, open_at
from tests.mailboxes.inboxes import unreachable_mailbox

pytestmark = pytest.mark.browser
SCREENSHOTS = Path("/tmp/pages-screens")


@pytest.mark.parametrize("size", SIZES)
def test_an_admin_sets_the_logging_rules(new_page, login, admin_user, size):
    unreachable_mailbox(admin_user, "ada@acme.example")
    page = open_at(new_page, size)
    login(page, "admin")
    open_settings(page, "Logging", group="Email")

    expect(page.get_by_role("heading", name="Logging", level=1)).to_be_visible()
    expect(page.get_by_text("Changes apply to email synced from now on.")).to_be_visible()
    never_log = page.get_by_label("Addresses and domains")
    expect(never_log).to_have_value("acme.example")
    expect(page.get_by_label("All mail with known contacts")).to_be_checked()
    expect(page.get_by_label("The contact's open deals")).to_be_checked()
    expect(page.get_by_label("Create contacts for unknown senders")).not_to_be_checked()
    assert_fits(page, SCREENSHOTS / size / "logging-rules.png")

    typed = "acme.example\npartner example\nkim@home.example"
    never_log.fill(typed)
    page.get_by_label("Create contacts for unknown senders").check()
    page.get_by_label("Only replies to email sent from the CRM").check()
    page.get_by_role("button", name="Save").click()

    field = page.locator(".field", has=never_log)
    expect(field.get_by_role("alert")).to_have_text(
        "Line 2: “partner example” is neither an email address nor a domain."
    )
    expect(never_log).to_have_value(typed)
    expect(page.get_by_label("Create contacts for unknown senders")).to_be_checked()
    expect(page.get_by_label("Only replies to email sent from the CRM")).to_be_checked()
    assert not LoggingRules.objects.exists()
    assert_fits(page, SCREENSHOTS / size / "logging-rules-error.png")

    never_log.fill(typed.replace("partner example", "partner.example"))
    page.get_by_role("button", name="Save").click()

    expect(page.get_by_role("status")).to_have_text(
        "Logging rules saved. They apply to email synced from now on."
    )
    expect(page).to_have_url(re.compile(r"/settings/email/logging/$"))
    expect(never_log).to_have_value("acme.example\npartner.example\nkim@home.example")
    expect(field.get_by_role("alert")).to_have_count(0)
    rules = LoggingRules.load()
    assert rules.never_log == ["acme.example", "partner.example", "kim@home.example"]
    assert (rules.create_contacts, rules.log_mode) == (True, "replies")
    assert_fits(page, SCREENSHOTS / size / "logging-rules-saved.png")


@pytest.mark.parametrize("size", SIZES)
def test_an_own_domain_taken_off_the_list_is_offered_back(new_page, login, admin_user, size):
    unreachable_mailbox(admin_user, "ada@acme.example")
    page = open_at(new_page, size)
    login(page, "admin")
    page.goto("/settings/email/logging/")
    page.get_by_label("Addresses and domains").fill("partner.example")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("Logging rules saved.")

    offer = page.locator(".logging-offer")
    expect(offer).to_contain_text("acme.example, the domain of a connected inbox, is not on")
    assert_fits(page, SCREENSHOTS / size / "logging-rules-offer.png")
    offer.get_by_role("button", name="Add acme.example").click()

    expect(page.get_by_role("status")).to_have_text(
        "acme.example added: email among its addresses is not logged from now on."
    )
    expect(page.locator(".logging-offer")).to_have_count(0)
    expect(page.get_by_label("Addresses and domains")).to_have_value(
        "partner.example\nacme.example"
    )
