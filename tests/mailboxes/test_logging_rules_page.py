"""Settings > Email > Logging: admins only; bad entries are refused line by line with nothing
saved; the account's own domains are offered. (The browser test is
tests/browser/test_logging_rules.py; what sync does with the rules,
tests/mailboxes/test_logging_rules_sync.py.)"""

from datetime import timedelta

import pytest
from django.utils import timezone

from mailboxes.constants import LogMode
from mailboxes.models import LoggingRules
from tests.mailboxes.inboxes import offline_mailbox
from tests.test_forms_keep_input import assert_kept

pytestmark = pytest.mark.django_db

URL = "/settings/email/logging/"
VALID = {
    "never_log": "",
    "log_mode": "all",
    "on_companies": "on",
    "on_open_deals": "on",
    "on_open_tickets": "on",
}


@pytest.fixture
def admin(client, admin_user):
    offline_mailbox(admin_user, email="ada@acme.example")
    client.force_login(admin_user)
    return client


def test_only_admins_open_the_page_and_find_it_under_email(client, owner, admin_user):
    assert client.get(URL).status_code == 302  # to the login page
    client.force_login(owner)
    assert client.get(URL).status_code == 403
    assert client.post(URL, VALID).status_code == 403
    assert client.post(URL + "own-domain/", {"domain": "acme.example"}).status_code == 403
    assert not LoggingRules.objects.exists()
    assert URL not in client.get("/settings/email/inboxes/").content.decode()

    client.force_login(admin_user)
    page = client.get("/settings/email/inboxes/").content.decode()
    assert f'href="{URL}"' in page


def test_the_defaults_never_log_the_own_domain_and_say_changes_are_for_new_mail(admin):
    response = admin.get(URL)
    page = response.content.decode()
    assert response.context["form"]["never_log"].value() == "acme.example"
    assert "Changes apply to email synced from now on." in page
    assert response.context["form"]["log_mode"].value() == LogMode.ALL
    assert response.context["form"]["create_contacts"].value() is False
    assert all(response.context["form"][f].value() for f in ("on_companies", "on_open_deals"))
    assert not LoggingRules.objects.exists()  # reading wrote nothing


def test_rules_are_saved_tidied_with_a_notice(admin):
    typed = VALID | {
        "never_log": " @Partner.Example \nspouse@HOME.example\n\npartner.example\nacme.example.",
        "log_mode": "replies",
        "create_contacts": "on",
        "on_open_deals": "",
    }
    response = admin.post(URL, typed, follow=True)

    rules = LoggingRules.load()
    assert rules.never_log == ["partner.example", "spouse@home.example", "acme.example"]
    assert (rules.log_mode, rules.create_contacts, rules.on_open_deals) == ("replies", True, False)
    assert rules.contacts_since is not None
    assert [str(m) for m in response.context["messages"]] == [
        "Logging rules saved. They apply to email synced from now on."
    ]


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("exa mple.com", "a space"),
        ("localhost", "no dot"),
        ("ana@", "an address without its domain"),
        ("ana@@acme.example", "two @"),
        ("https://acme.example/", "a web address"),
    ],
)
def test_a_bad_line_is_named_beside_the_field_and_nothing_is_saved(admin, line, why):
    typed = VALID | {"never_log": f"partner.example\n{line}", "create_contacts": "on"}
    response = admin.post(URL, typed)

    assert response.context["form"].errors["never_log"] == [
        f"Line 2: “{line}” is neither an email address nor a domain."
    ], why
    assert "has-error" in response.content.decode()
    assert not LoggingRules.objects.exists()  # not the list, nor the switch beside it
    assert_kept(response, typed)


def test_every_bad_line_is_named_and_earlier_rules_stay_as_they_were(admin):
    admin.post(URL, VALID | {"never_log": "partner.example"})
    before = LoggingRules.load()
    response = admin.post(
        URL, VALID | {"never_log": "ok.example\nbad domain\nbad@\nfine@ok.example", "log_mode": ""}
    )
    form = response.context["form"]
    assert form.errors["never_log"] == [
        "Line 2: “bad domain” is neither an email address nor a domain.",
        "Line 3: “bad@” is neither an email address nor a domain.",
    ]
    assert "log_mode" in form.errors
    after = LoggingRules.load()
    assert (after.never_log, after.log_mode, after.updated_at) == (
        ["partner.example"],
        "all",
        before.updated_at,
    )


def test_an_own_domain_missing_from_saved_rules_is_offered_and_added(admin, admin_user, owner):
    admin.post(URL, VALID | {"never_log": "partner.example"})
    offline_mailbox(owner, email="rep@sales.example")  # connected after the rules were saved
    offline_mailbox(owner, email="rep@gmail.com")  # a public mail service: never offered
    page = admin.get(URL)
    assert page.context["missing_domains"] == ["acme.example", "sales.example"]
    assert "Add sales.example" in page.content.decode()

    response = admin.post(URL + "own-domain/", {"domain": "sales.example"}, follow=True)
    assert LoggingRules.load().never_log == ["partner.example", "sales.example"]
    assert response.context["missing_domains"] == ["acme.example"]
    assert "sales.example added" in str(list(response.context["messages"])[0])
    # Only an own domain, and only one missing, can be added this way.
    admin.post(URL + "own-domain/", {"domain": "evil.example"})
    admin.post(URL + "own-domain/", {"domain": "sales.example"})
    assert LoggingRules.load().never_log == ["partner.example", "sales.example"]


def test_a_listed_parent_domain_covers_an_own_subdomain(admin, owner):
    offline_mailbox(owner, email="rep@eu.acme.example")
    admin.post(URL, VALID | {"never_log": "acme.example"})
    assert admin.get(URL).context["missing_domains"] == []


def test_turning_contact_creation_on_starts_from_that_moment(admin):
    """Mail older than the switch makes no contacts (the sync side is in
    tests/mailboxes/test_logging_rules_sync.py)."""
    form = VALID | {"create_contacts": "on"}
    admin.post(URL, form)
    since = LoggingRules.load().contacts_since
    assert since is not None and timezone.now() - since < timedelta(minutes=1)
    admin.post(URL, form | {"never_log": "home.example"})
    assert LoggingRules.load().contacts_since == since  # still on: not moved
    admin.post(URL, VALID)
    admin.post(URL, form)
    assert LoggingRules.load().contacts_since > since  # off, then on again
