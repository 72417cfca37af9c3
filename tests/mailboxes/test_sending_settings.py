"""Settings > Email > Sending and one inbox's limits (admins): what each provider allows, the
limits new inboxes start with, and the tracking domain with its DNS check, through the real
views, connect flows and tracking endpoints.

DNS answers come from the fake server of tests/fakes/dns.py: dnspython's default resolver,
which the page's check asks, is pointed at it (dnspython's, not the project's, is patched).
"""

from html import unescape

import dns.resolver
import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from mailboxes.connecting import caps
from mailboxes.constants import Provider, TrackingDomainCheck
from mailboxes.models import Mailbox, SendingSettings, TrackedLink
from mailboxes.tracking import links, tokens
from mailboxes.tracking.domain import normalize_domain, tracking_base_url
from records.demo import load_demo
from tests.fakes.dns import FakeDnsServer
from tests.test_forms_keep_input import assert_kept

from .test_tracking import make_message
from .test_views import (
    callback_path,
    consent,
    imap_form,
    imap_servers,
    microsoft_round_trip,
    personal,
    start_google,
)

SENDING_URL = reverse("mailboxes:sending-settings")
ALL_INBOXES_URL = reverse("mailboxes:all-inboxes")
BASE_HOST = "crm.acme.test"
TRACKING_HOST = "t.acme.test"


def text(response) -> str:
    return unescape(response.content.decode())


def cell_of(page: str, name: str) -> str:
    """The table cell of the input `name`: its errors are beside it there."""
    start = page.rindex("<td", 0, page.index(f'name="{name}"'))
    return page[start : page.index("</td>", start)]


def limits_url(mailbox) -> str:
    return reverse("mailboxes:all-inbox-limits", args=[mailbox.pk])


def limits_form(**changes) -> dict:
    """The Sending page's limits as a browser submits them: every plan's current values."""
    data = {"form": "limits"}
    for plan in caps.PLANS:
        for window, value in plan.defaults().items():
            data[f"{plan.key}-{window}"] = value
    data.update({key.replace("__", "-"): value for key, value in changes.items()})
    return data


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def owner_client(owner):
    # Its own client: tests here sign the admin in on `client` (admin_client) beside it.
    client = Client()
    client.force_login(owner)
    return client


@pytest.fixture
def fake_dns(monkeypatch):
    with FakeDnsServer() as server:
        monkeypatch.setattr(dns.resolver, "default_resolver", server.resolver())
        yield server


@pytest.fixture
def crm_host(settings, fake_dns):
    """The CRM at https://crm.acme.test (10.0.0.5 in DNS), which accepts only its own host."""
    settings.CRM_BASE_URL = f"https://{BASE_HOST}"
    settings.ALLOWED_HOSTS = ["testserver", BASE_HOST]
    settings.TRACKING_BUFFER = "direct"
    fake_dns.add(BASE_HOST, "A", "10.0.0.5")
    return fake_dns


# -- who may ---------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["get", "post"])
def test_the_sending_page_and_an_inbox_limits_are_403_for_non_admins(
    client, owner, teammate, method
):
    box = personal(teammate, "team.mate@acme.example", send_per_day=100)
    client.force_login(owner)

    for url in (SENDING_URL, limits_url(box)):
        data = limits_form(other__day=9) if method == "post" else None
        assert getattr(client, method)(url, data).status_code == 403
    assert not SendingSettings.objects.exists()
    box.refresh_from_db()
    assert box.send_per_day == 100


@pytest.mark.django_db
def test_admins_find_sending_under_email_and_reps_do_not(admin_client, owner_client):
    page = text(admin_client.get(SENDING_URL))
    assert f'href="{SENDING_URL}" aria-current="page">Sending</a>' in page
    assert SENDING_URL not in text(owner_client.get(reverse("mailboxes:settings")))


# -- what each provider allows ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("provider", "email", "config", "plan"),
    [
        (Provider.GMAIL, "ana@gmail.com", {}, caps.GMAIL),
        (Provider.GMAIL, "ana@googlemail.com", {}, caps.GMAIL),
        (Provider.IMAP, "ana@gmail.com", {"smtp_host": "smtp.gmail.com"}, caps.GMAIL),
        (Provider.GMAIL, "ana@acme.example", {}, caps.WORKSPACE),
        (Provider.IMAP, "ana@acme.example", {"smtp_host": "smtp.gmail.com"}, caps.WORKSPACE),
        (Provider.OFFICE365, "ana@contoso.example", {}, caps.EXCHANGE_ONLINE),
        (
            Provider.IMAP,
            "ana@contoso.example",
            {"smtp_host": "smtp.office365.com"},
            caps.EXCHANGE_ONLINE,
        ),  # fmt: skip
        (
            Provider.EXCHANGE,
            "ana@contoso.example",
            {"ews_url": "https://outlook.office365.com/EWS/Exchange.asmx"},
            caps.EXCHANGE_ONLINE,
        ),  # fmt: skip
        (
            Provider.EXCHANGE,
            "ana@corp.example",
            {"ews_url": "https://mail.corp.example/EWS/Exchange.asmx"},
            caps.EXCHANGE,
        ),  # fmt: skip
        (Provider.IMAP, "ana@corp.example", {"smtp_host": "mail.corp.example"}, caps.OTHER),
        (Provider.DEMO, "sam@crm-demo.example", {}, caps.OTHER),
    ],
)
def test_the_cap_follows_who_actually_sends(provider, email, config, plan):
    assert caps.plan_for(provider, email, config) == plan


def test_the_caps_are_those_the_providers_publish():
    assert caps.GMAIL.describe() == "500 recipients a day"
    assert caps.WORKSPACE.describe() == "2,000 recipients a day"
    assert caps.EXCHANGE_ONLINE.describe() == "30 emails a minute, 10,000 recipients a day"
    assert (
        caps.EXCHANGE.describe() == caps.OTHER.describe() == ("no cap: the server's admin decides")
    )


@pytest.mark.django_db
def test_the_page_shows_each_providers_cap_beside_its_fields(admin_client):
    page = text(admin_client.get(SENDING_URL))

    for plan in caps.PLANS:
        row = page[page.index(f'id="plan-{plan.key}"') :]
        row = row[: row.index("</tr>")]
        assert str(plan.label) in row and plan.describe() in row
        assert f'name="{plan.key}-minute"' in row and f'name="{plan.key}-day"' in row


@pytest.mark.django_db
def test_a_default_above_its_providers_cap_is_refused_beside_the_field_and_nothing_is_saved(
    admin_client,
):
    typed = limits_form(workspace__day=2500, exchange_online__minute=31, other__day=777)

    response = admin_client.post(SENDING_URL, typed)

    assert_kept(response, {k: v for k, v in typed.items() if k != "form"})
    page = text(response)
    assert "Google Workspace allows at most 2,000 recipients a day." in cell_of(
        page, "workspace-day"
    )
    assert "Office 365 / Exchange Online allows at most 30 emails a minute." in cell_of(
        page, "exchange_online-minute"
    )
    # The valid ones were not saved either.
    assert not SendingSettings.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("value", [-5, 0, "lots"])
def test_a_negative_zero_or_unreadable_default_is_refused(admin_client, value):
    response = admin_client.post(SENDING_URL, limits_form(gmail__minute=value))

    assert_kept(response, {"gmail-minute": value})
    expected = "Type a whole number." if value == "lots" else "A limit must be 1 or more."
    assert expected in cell_of(text(response), "gmail-minute")
    assert not SendingSettings.objects.exists()


@pytest.mark.django_db
def test_an_admin_saves_the_limits_new_inboxes_start_with(admin_client):
    response = admin_client.post(
        SENDING_URL, limits_form(gmail__day=400, exchange_online__minute=30, other__day=5000)
    )

    assert response.status_code == 302
    saved = SendingSettings.load().new_inbox_limits
    assert saved["gmail"] == {"minute": 20, "day": 400}
    assert saved["exchange_online"] == {"minute": 30, "day": 500}
    assert saved["other"] == {"minute": 20, "day": 5000}
    assert "New inboxes will start with these limits." in text(admin_client.get(SENDING_URL))


# -- one inbox's limits (Settings > All inboxes) ---------------------------------------------


@pytest.mark.django_db
def test_an_inbox_limit_above_its_providers_cap_is_refused_naming_the_cap(admin_client, owner):
    box = personal(owner, "ana@contoso.example", provider=Provider.OFFICE365)

    typed = {"per_minute": 31, "per_day": 9000}
    response = admin_client.post(limits_url(box), typed)

    assert_kept(response, typed)
    assert response.context["form"].errors == {
        "per_minute": ["Office 365 / Exchange Online allows at most 30 emails a minute."]
    }
    box.refresh_from_db()
    assert (box.send_per_minute, box.send_per_day) == (20, 500)  # neither was saved


@pytest.mark.django_db
def test_an_inbox_limit_of_zero_or_less_is_refused(admin_client, owner):
    box = personal(owner, "ana@corp.example")

    response = admin_client.post(limits_url(box), {"per_minute": 5, "per_day": 0})

    assert response.context["form"].errors == {"per_day": ["A limit must be 1 or more."]}
    box.refresh_from_db()
    assert (box.send_per_minute, box.send_per_day) == (20, 500)


@pytest.mark.django_db
def test_an_admin_changes_one_inboxs_limits_from_all_inboxes(admin_client, owner):
    box = personal(owner, "ana@acme.example", provider=Provider.GMAIL)
    listing = text(admin_client.get(ALL_INBOXES_URL))
    assert f'href="{limits_url(box)}"' in listing
    form = text(admin_client.get(limits_url(box)))
    assert "The cap of Google Workspace: 2,000 recipients a day." in form

    response = admin_client.post(limits_url(box), {"per_minute": 10, "per_day": 2000}, follow=True)

    assert response.redirect_chain == [(ALL_INBOXES_URL, 302)]
    assert "ana@acme.example now sends at most 10 emails a minute and 2,000 recipients a day." in (
        text(response)
    )
    box.refresh_from_db()
    assert (box.send_per_minute, box.send_per_day) == (10, 2000)


# -- new inboxes start with the account's limits, within their cap ----------------------------


@imap_servers
@pytest.mark.django_db
def test_an_inbox_connected_with_the_imap_form_gets_the_accounts_limits(
    admin_client, owner_client, owner, dovecot, smtp_sink
):
    admin_client.post(SENDING_URL, limits_form(other__minute=7, other__day=1234))

    response = owner_client.post(reverse("mailboxes:connect-imap"), imap_form(dovecot, smtp_sink))

    assert response.status_code == 302
    box = Mailbox.objects.get(owner=owner)
    assert (box.send_per_minute, box.send_per_day) == (7, 1234)


@pytest.mark.integration
@pytest.mark.django_db
def test_an_office365_inbox_gets_the_accounts_limits_lowered_to_the_providers_cap(
    owner_client, owner, fake_microsoft
):
    # Saved before the cap was known (or from an older release): higher than it allows.
    SendingSettings.objects.create(
        pk=1, new_inbox_limits={"exchange_online": {"minute": 45, "day": 9000}}
    )
    fake_microsoft.add_user("ana@contoso.test", "Ana Lopez")

    microsoft_round_trip(owner_client, fake_microsoft, "ana@contoso.test")

    box = Mailbox.objects.get(owner=owner)
    assert (box.send_per_minute, box.send_per_day) == (30, 9000)


@pytest.mark.integration
@pytest.mark.django_db
def test_reconnecting_through_gmail_lowers_the_limits_to_gmails_cap(
    owner_client, owner, fake_google
):
    box = personal(owner, "ana@gmail.com", send_per_minute=40, send_per_day=5000)

    owner_client.get(callback_path(consent(start_google(owner_client))))

    box.refresh_from_db()
    assert box.provider == Provider.GMAIL
    assert (box.send_per_minute, box.send_per_day) == (40, 500)


@pytest.mark.django_db
def test_demo_inboxes_get_the_accounts_limits_too():
    load_demo(contacts=1)
    SendingSettings.objects.create(pk=1, new_inbox_limits={"other": {"minute": 3, "day": 33}})

    call_command("load_demo_inboxes", stdout=open("/dev/null", "w"))

    box = Mailbox.objects.get(email="sam@crm-demo.example")
    assert (box.send_per_minute, box.send_per_day) == (3, 33)


# -- the tracking domain ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "stored"),
    [(" T.Acme.TEST. ", "t.acme.test"), ("bücher.example", "xn--bcher-kva.example")],
)
def test_a_tracking_domain_is_kept_as_its_lowercase_ascii_name(typed, stored):
    assert normalize_domain(typed) == stored


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("https://t.acme.test", "without https://"),
        ("t.acme.test/links", "without https://"),
        ("192.0.2.7", "not an IP address"),
        ("[2001:db8::7]", "not an IP address"),
        ("localhost", "is not a host name"),
        ("t_links.acme.test", "is not a host name"),
        ("crm.acme.test", "the CRM's own address"),
    ],
)
def test_what_is_no_tracking_domain_is_refused_saying_why(settings, typed, says):
    settings.CRM_BASE_URL = f"https://{BASE_HOST}"
    with pytest.raises(ValidationError) as refused:
        normalize_domain(typed)
    assert says in refused.value.messages[0]


@pytest.mark.django_db
def test_an_invalid_tracking_domain_is_refused_beside_the_field_and_nothing_saved(admin_client):
    typed = {"form": "tracking", "tracking_domain": "https://t.acme.test/"}

    response = admin_client.post(SENDING_URL, typed)

    assert_kept(response, {"tracking_domain": typed["tracking_domain"]})
    assert response.context["tracking"].errors == {
        "tracking_domain": [
            "Type the host name only, without https:// or a path: e.g. t.example.com."
        ]
    }
    assert not SendingSettings.objects.exists()


def check_dns(client, domain=TRACKING_HOST):
    return client.post(
        SENDING_URL,
        {"form": "tracking", "tracking_domain": domain, "action": "check"},
        follow=True,
    )


def tracked_urls(owner) -> list[str]:
    message = make_message(owner=owner)
    html = links.instrument('<p><a href="https://shop.example/pricing">Pricing</a></p>', message)
    return [part.split('"')[0] for part in html.split('="')[1:] if "/t/" in part]


@pytest.mark.django_db
def test_links_use_the_tracking_domain_only_once_its_check_passed_and_the_server_accepts_it(
    admin_client, owner, crm_host, settings
):
    admin_client.post(SENDING_URL, {"form": "tracking", "tracking_domain": TRACKING_HOST})
    page = text(admin_client.get(SENDING_URL))
    assert f"{TRACKING_HOST}. CNAME {BASE_HOST}." in page
    assert "Not checked yet" in page
    assert all(url.startswith(f"https://{BASE_HOST}/t/") for url in tracked_urls(owner))

    # The record is created; the check passes, but the server does not accept the name yet.
    crm_host.add(TRACKING_HOST, "CNAME", f"{BASE_HOST}.")
    page = text(check_dns(admin_client))
    assert f"{TRACKING_HOST} is a CNAME to {BASE_HOST}." in page
    assert "Set CRM_TRACKING_HOST=t.acme.test in the server's environment" in page
    assert SendingSettings.load().tracking_check == TrackingDomainCheck.RESOLVES
    assert tracking_base_url() == f"https://{BASE_HOST}"

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, TRACKING_HOST]
    page = text(admin_client.get(SENDING_URL))
    assert f"This server accepts requests for {TRACKING_HOST}" in page
    urls = tracked_urls(owner)
    assert len(urls) == 2
    assert all(url.startswith(f"https://{TRACKING_HOST}/t/") for url in urls)
    assert all(links.is_tracking_url(url) for url in urls)


@pytest.mark.django_db
def test_the_tracking_endpoints_answer_on_the_tracking_host_and_the_crms_own(
    owner, crm_host, settings
):
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, TRACKING_HOST]
    message = make_message(owner=owner)
    link = TrackedLink.objects.create(message=message, position=0, url="https://shop.example/")
    pixel = reverse("tracking:open", args=[tokens.open_token(message.pk)])
    click = reverse("tracking:click", args=[tokens.click_token(message.pk, link.pk, link.url)])
    client = Client()

    for host in (TRACKING_HOST, BASE_HOST):
        opened = client.get(pixel, HTTP_HOST=host, secure=True)
        assert (opened.status_code, opened["Content-Type"]) == (200, "image/gif")
        clicked = client.get(click, HTTP_HOST=host, secure=True)
        assert (clicked.status_code, clicked["Location"]) == (302, "https://shop.example/")
    # A host the server was not told about is refused, as any other request would be.
    assert client.get(pixel, HTTP_HOST="t.elsewhere.test").status_code == 400


@pytest.mark.django_db
def test_addresses_among_the_crms_pass_the_check_and_others_do_not(admin_client, crm_host):
    crm_host.add(BASE_HOST, "AAAA", "2001:db8::5")
    crm_host.add(TRACKING_HOST, "A", "10.0.0.5")
    crm_host.add("t2.acme.test", "A", "10.0.0.5", "198.51.100.9")

    page = text(check_dns(admin_client))
    assert f"{TRACKING_HOST} leads to 10.0.0.5, the addresses of {BASE_HOST}." in page
    assert SendingSettings.load().tracking_domain_verified

    page = text(check_dns(admin_client, "t2.acme.test"))
    assert "The DNS check did not pass" in page
    assert (
        f"t2.acme.test leads to 10.0.0.5, 198.51.100.9, not to {BASE_HOST} (10.0.0.5, 2001:db8::5)"
        in page
    )
    account = SendingSettings.load()
    assert account.tracking_check == TrackingDomainCheck.ELSEWHERE
    assert tracking_base_url(account) == f"https://{BASE_HOST}"


@pytest.mark.django_db
def test_a_cname_to_another_host_points_elsewhere(admin_client, crm_host):
    crm_host.add(TRACKING_HOST, "CNAME", "links.mailer.test.")

    page = text(check_dns(admin_client))

    assert f"{TRACKING_HOST} is a CNAME to links.mailer.test, not to {BASE_HOST}." in page
    assert SendingSettings.load().tracking_check == TrackingDomainCheck.ELSEWHERE


@pytest.mark.django_db
def test_a_name_that_does_not_exist_or_a_failing_dns_says_so(admin_client, crm_host):
    page = text(check_dns(admin_client))
    assert "Does not exist" in page and f"{TRACKING_HOST} does not exist in DNS." in page

    crm_host.fail(TRACKING_HOST)
    page = text(check_dns(admin_client))
    assert "DNS failed" in page and "no DNS server could answer" in page
    assert tracking_base_url() == f"https://{BASE_HOST}"


@pytest.mark.django_db
def test_a_new_tracking_domain_forgets_the_last_check_and_links_go_back_to_the_crm(
    admin_client, crm_host, settings
):
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, TRACKING_HOST, "t2.acme.test"]
    crm_host.add(TRACKING_HOST, "CNAME", f"{BASE_HOST}.")
    check_dns(admin_client)
    assert tracking_base_url() == f"https://{TRACKING_HOST}"

    admin_client.post(SENDING_URL, {"form": "tracking", "tracking_domain": "t2.acme.test"})

    account = SendingSettings.load()
    assert (account.tracking_check, account.tracking_found, account.tracking_checked_at) == (
        TrackingDomainCheck.NOT_CHECKED,
        "",
        None,
    )
    assert tracking_base_url() == f"https://{BASE_HOST}"
    admin_client.post(SENDING_URL, {"form": "tracking", "tracking_domain": ""})
    assert SendingSettings.load().tracking_domain == ""


@pytest.mark.django_db
def test_a_tracking_link_on_another_host_counts_as_ours_only_with_a_valid_token(crm_host):
    pixel = reverse("tracking:open", args=[tokens.open_token(42)])

    assert links.is_tracking_url(f"https://{TRACKING_HOST}{pixel}")
    assert links.is_tracking_url(f"https://old-links.acme.test{pixel}")
    assert not links.is_tracking_url(f"https://{TRACKING_HOST}/t/o/forgedforgedforgedforged.gif")
    assert not links.is_tracking_url("https://shop.example/t/c/abc")
