"""The connect flows and Settings > Email, through the real views.

Servers are real where the design has them (Dovecot, aiosmtpd) and the local fakes of Google,
Microsoft and Exchange elsewhere; nothing of the app is patched.
"""

from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from mailboxes.constants import MailboxKind, MailboxStatus, Provider
from mailboxes.models import (
    DomainServerSettings,
    EmailPreferences,
    FolderSync,
    Mailbox,
    SendAsAddress,
    TeamInbox,
)
from mailboxes.providers.graph import SHARED_MAILBOX_MESSAGE
from tests import clock
from tests.integration.servers import free_port
from tests.mailboxes.inboxes import default_inbox

# The fakes' and servers' pytest fixtures, made visible to this module's tests.

SETTINGS_URL = reverse("mailboxes:settings")
CONNECT_URL = reverse("mailboxes:connect")
IMAP_URL = reverse("mailboxes:connect-imap")
EXCHANGE_URL = reverse("mailboxes:connect-exchange")
GOOGLE_START = reverse("mailboxes:oauth-google")
MICROSOFT_START = reverse("mailboxes:oauth-microsoft")
GOOGLE_CALLBACK = "http://testserver" + reverse("mailboxes:oauth-google-callback")
MICROSOFT_CALLBACK = "http://testserver" + reverse("mailboxes:oauth-microsoft-callback")
EWS_PASSWORD = "correct horse battery"


def personal(owner, email, provider=Provider.IMAP, **fields):
    fields.setdefault("secret", {"password": "hunter2"})
    return Mailbox.objects.create(
        kind=MailboxKind.PERSONAL, provider=provider, email=email, owner=owner, **fields
    )


def page_text(response) -> str:
    """The response's HTML with entities decoded, so apostrophes compare as typed."""
    return unescape(response.content.decode())


def consent(location: str, **requests_options) -> str:
    """Follow the provider's authorize URL like a browser; return where it sends us back."""
    response = requests.get(location, allow_redirects=False, timeout=10, **requests_options)
    assert response.status_code == 302, response.text
    return response.headers["Location"]


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def callback_path(location: str) -> str:
    """The path and query of the callback URL the provider redirected to (test client form)."""
    parts = urlsplit(location)
    assert parts.netloc == "testserver"
    return f"{parts.path}?{parts.query}"


def stored_secret(mailbox: Mailbox) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM mailboxes_mailbox WHERE id = %s", [mailbox.pk])
        return cursor.fetchone()[0]


@pytest.fixture
def owner_client(client, owner):
    client.force_login(owner)
    return client


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def support(db):
    return TeamInbox.objects.create(name="Support", kind="conversations", display_name="Support")


# -- Settings > Email --------------------------------------------------------------------


def test_settings_list_only_my_inboxes_with_status_and_reconnect_reason(
    owner_client, owner, teammate
):
    personal(owner, "owner@acme.example")
    broken = personal(owner, "owner@gmail.com", provider=Provider.GMAIL)
    broken.mark_needs_reconnect("Google says the access was revoked; reconnect the inbox.")
    personal(teammate, "teammate@acme.example")

    response = owner_client.get(SETTINGS_URL)

    text = page_text(response)
    assert "owner@acme.example" in text and "owner@gmail.com" in text
    assert "teammate@acme.example" not in text
    assert "Google says the access was revoked; reconnect the inbox." in text
    assert "Needs reconnect" in text and "Connected" in text
    reconnect = f'href="{CONNECT_URL}?email=owner%40gmail.com">Reconnect</a>'
    assert reconnect in response.content.decode()


def test_settings_page_costs_the_same_queries_for_one_inbox_or_many(owner_client, owner):
    def add_inbox(n):
        box = personal(owner, f"box{n}@acme.example")
        FolderSync.objects.create(mailbox=box, folder="INBOX", role="inbox")
        FolderSync.objects.create(mailbox=box, folder="Sent", role="sent")
        SendAsAddress.objects.create(mailbox=box, email=f"alias{n}@acme.example")

    add_inbox(0)
    with CaptureQueriesContext(connection) as one:
        assert owner_client.get(SETTINGS_URL).status_code == 200
    for n in range(1, 4):
        add_inbox(n)
    with CaptureQueriesContext(connection) as four:
        response = owner_client.get(SETTINGS_URL)

    assert "alias3@acme.example" in page_text(response)
    assert len(four) == len(one)


def test_reconnect_link_opens_the_connect_page_with_the_address_and_its_recommendation(
    owner_client, owner
):
    personal(owner, "owner@gmail.com", provider=Provider.GMAIL)

    response = owner_client.get(CONNECT_URL, {"email": "owner@gmail.com"})

    assert response.context["form"]["email"].value() == "owner@gmail.com"
    assert response.context["choices"][0]["provider"] == Provider.GMAIL


def test_default_from_moves_to_the_chosen_inbox(owner_client, owner):
    first = personal(owner, "a@acme.example")
    second = personal(owner, "b@acme.example")
    assert default_inbox(owner) == first  # the first connected, until the rep chooses

    response = owner_client.post(reverse("mailboxes:default", args=[second.pk]))

    assert response.status_code == 302
    assert default_inbox(owner) == second
    page = page_text(owner_client.get(SETTINGS_URL))
    sections = {
        box: page.split(f'id="mailbox-{box.pk}"')[1].split("</section>")[0]
        for box in (first, second)
    }
    badge = '<span class="badge">default From</span>'
    assert badge in sections[second] and badge not in sections[first]


def test_default_from_refuses_someone_elses_inbox_and_get(owner_client, owner, teammate):
    mine = personal(owner, "a@acme.example")
    theirs = personal(teammate, "t@acme.example")

    assert owner_client.post(reverse("mailboxes:default", args=[theirs.pk])).status_code == 404
    assert owner_client.get(reverse("mailboxes:default", args=[mine.pk])).status_code == 405
    assert not EmailPreferences.objects.exists()
    assert (default_inbox(owner), default_inbox(teammate)) == (mine, theirs)


def test_disconnect_deletes_the_inbox_and_its_credentials(owner_client, owner):
    box = personal(owner, "a@acme.example")
    other = personal(owner, "b@acme.example")
    owner_client.post(reverse("mailboxes:default", args=[box.pk]))
    SendAsAddress.objects.create(mailbox=box, email="alias@acme.example")
    FolderSync.objects.create(mailbox=box, folder="INBOX")

    response = owner_client.post(reverse("mailboxes:disconnect", args=[box.pk]), follow=True)

    assert "a@acme.example is disconnected and its credentials are deleted." in page_text(response)
    assert not Mailbox.objects.filter(pk=box.pk).exists()
    assert not SendAsAddress.objects.filter(email="alias@acme.example").exists()
    assert not FolderSync.objects.filter(mailbox_id=box.pk).exists()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM mailboxes_mailbox WHERE id = %s", [box.pk])
        assert cursor.fetchone()[0] == 0
    assert default_inbox(owner) == other  # the remaining inbox takes over as default From


def test_disconnecting_someone_elses_inbox_is_a_404_and_keeps_it(owner_client, teammate):
    theirs = personal(teammate, "t@acme.example")

    assert owner_client.post(reverse("mailboxes:disconnect", args=[theirs.pk])).status_code == 404
    assert Mailbox.objects.filter(pk=theirs.pk).exists()


# -- connect: address and recommendation ---------------------------------------------------


@pytest.mark.parametrize(
    ("email", "recommended", "others"),
    [
        ("ana@gmail.com", Provider.GMAIL, [Provider.IMAP]),
        ("ana@outlook.com", Provider.OFFICE365, []),
        # No such domain (no internet here either): the IMAP fallback, every other offered.
        (
            "ana@no-such-domain.invalid",
            Provider.IMAP,
            [Provider.GMAIL, Provider.OFFICE365, Provider.EXCHANGE],
        ),
    ],
)
def test_connect_recommends_a_provider_from_the_address(owner_client, email, recommended, others):
    response = owner_client.post(CONNECT_URL, {"email": email})

    choices = response.context["choices"]
    assert [c["provider"] for c in choices] == [recommended, *others]
    assert choices[0]["recommended"] and not any(c["recommended"] for c in choices[1:])
    text = page_text(response)
    assert f"Connect to {Provider(recommended).label}" in text
    assert "recommended" in text
    assert choices[0]["disclosure"] in text
    assert response.context["why"] in text


def test_connect_links_keep_an_address_with_a_plus(owner_client):
    response = owner_client.post(CONNECT_URL, {"email": "ana+crm@gmail.com"})

    gmail = response.context["choices"][0]["url"]
    assert gmail.endswith("?email=ana%2Bcrm%40gmail.com")
    intro = owner_client.get(gmail)
    start_url = intro.context["start_url"]
    assert query_of(start_url)["email"] == "ana+crm@gmail.com"


def test_connect_refuses_an_address_someone_else_holds_without_naming_them(
    owner_client, teammate, support
):
    personal(teammate, "shared@acme.example")
    Mailbox.objects.create(
        kind=MailboxKind.TEAM,
        provider=Provider.GMAIL,
        email="help@acme.example",
        team_inbox=support,
    )

    taken = page_text(owner_client.post(CONNECT_URL, {"email": "Shared@Acme.example"}))
    team = page_text(owner_client.post(CONNECT_URL, {"email": "help@acme.example"}))

    assert "shared@acme.example is already connected. An address can be connected only once" in (
        taken
    )
    assert "help@acme.example is already connected. An address can be connected only once" in (team)
    # Who holds it, or that a team inbox does, is not for whoever typed the address.
    for text in (taken, team):
        assert teammate.display_name not in text
        assert "teammate" not in text
        assert "Support" not in text and "team address" not in text


def test_connect_lets_me_reconnect_my_own_address(owner_client, owner):
    personal(owner, "me@gmail.com", provider=Provider.GMAIL)

    response = owner_client.post(CONNECT_URL, {"email": "me@gmail.com"})

    assert not response.context["form"].errors
    assert response.context["choices"][0]["provider"] == Provider.GMAIL


def test_connect_imap_prefills_the_servers_an_admin_set_for_the_domain(owner_client):
    DomainServerSettings.objects.create(
        domain="acme.example",
        imap_host="imap.acme.example",
        imap_port=993,
        imap_security="ssl",
        smtp_host="smtp.acme.example",
        smtp_port=465,
        smtp_security="ssl",
    )

    response = owner_client.get(IMAP_URL, {"email": "ana@acme.example"})

    form = response.context["form"]
    assert form["imap_host"].value() == "imap.acme.example"
    assert form["smtp_port"].value() == 465
    assert "Server settings found in your administrator's settings for this domain." in page_text(
        response
    )


def test_connect_imap_says_in_words_where_it_found_a_known_providers_servers(owner_client):
    # Yahoo Mail's servers are among the well-known providers': no network is asked.
    response = owner_client.get(IMAP_URL, {"email": "ana@yahoo.com"})

    assert response.context["form"]["imap_host"].value() == "imap.mail.yahoo.com"
    text = page_text(response)
    assert "Server settings found: this provider's usual servers." in text
    assert "(known)" not in text


def test_gmail_start_without_google_settings_tells_what_the_admin_must_set(owner_client, settings):
    settings.GOOGLE_CLIENT_ID = ""

    response = owner_client.get(GOOGLE_START, {"email": "ana@gmail.com"}, follow=True)

    assert response.redirect_chain == [(CONNECT_URL, 302)]
    assert "an admin needs to set GOOGLE_CLIENT_ID and GOOGLE_CLIENT_SECRET" in page_text(response)


CONNECT_URLS = [
    ("get", CONNECT_URL),
    ("post", CONNECT_URL),
    ("get", IMAP_URL),
    ("post", IMAP_URL),
    ("get", EXCHANGE_URL),
    ("post", EXCHANGE_URL),
    ("get", reverse("mailboxes:connect-oauth", args=["gmail"])),
    ("get", reverse("mailboxes:connect-oauth", args=["office365"])),
    ("get", GOOGLE_START),
    ("get", MICROSOFT_START),
]


@pytest.mark.parametrize(("method", "url"), CONNECT_URLS)
def test_a_view_only_seat_gets_403_on_every_connect_url(client, viewer, method, url):
    client.force_login(viewer)

    response = getattr(client, method)(url, {"email": "viewer@gmail.com"})

    assert response.status_code == 403
    assert not Mailbox.objects.exists()


def test_a_view_only_seat_sees_no_connect_button(client, viewer):
    client.force_login(viewer)

    response = client.get(SETTINGS_URL)

    assert "A View-only seat cannot connect an inbox." in page_text(response)
    assert f'href="{CONNECT_URL}"' not in response.content.decode()


# -- IMAP + SMTP against Dovecot and aiosmtpd ------------------------------------------------


# The sink takes AUTH without TLS on purpose (loopback only); aiosmtpd warns about it.
AUTH_WITHOUT_TLS = pytest.mark.filterwarnings(
    "ignore:Requiring AUTH while not requiring TLS:UserWarning"
)


def imap_servers(test):
    """Mark a test that connects to Dovecot and aiosmtpd."""
    return pytest.mark.integration(AUTH_WITHOUT_TLS(test))


def imap_form(dovecot, smtp_sink, **changes):
    data = {
        "email": dovecot.email,
        "password": dovecot.password,
        "username": dovecot.user,
        "imap_host": dovecot.host,
        "imap_port": dovecot.port,
        "imap_security": "none",
        "smtp_host": smtp_sink.host,
        "smtp_port": smtp_sink.port,
        "smtp_security": "none",
        "separate_smtp_login": "on",
        "smtp_username": smtp_sink.user,
        "smtp_password": smtp_sink.password,
    }
    data.update(changes)
    return data


@imap_servers
def test_imap_connect_verifies_with_the_servers_and_saves_the_inbox(
    owner_client, owner, dovecot, smtp_sink
):
    response = owner_client.post(IMAP_URL, imap_form(dovecot, smtp_sink), follow=True)

    assert response.redirect_chain == [(SETTINGS_URL, 302)]
    assert f"{dovecot.email} is connected" in page_text(response)
    box = Mailbox.objects.get(owner=owner)
    assert (box.provider, box.kind, box.status) == ("imap", "personal", "connected")
    assert default_inbox(owner) == box  # the first inbox connected
    assert box.config["imap_port"] == dovecot.port and box.config["username"] == dovecot.user
    assert box.config["smtp_username"] == smtp_sink.user
    assert box.secret == {"password": dovecot.password, "smtp_password": smtp_sink.password}
    assert dovecot.password not in stored_secret(box)
    assert smtp_sink.messages == []  # verifying sends nothing


@imap_servers
def test_imap_wrong_password_says_sign_in_was_refused_and_keeps_what_was_typed(
    owner_client, dovecot, smtp_sink
):
    response = owner_client.post(
        IMAP_URL, imap_form(dovecot, smtp_sink, password="not-the-password")
    )

    assert response.status_code == 200
    (error,) = response.context["form"].non_field_errors()
    assert error.startswith("Sign-in was refused")
    form = response.context["form"]
    assert form["imap_host"].value() == dovecot.host
    assert form["username"].value() == dovecot.user
    assert form["smtp_username"].value() == smtp_sink.user
    assert form["password"].value() == "not-the-password"
    assert "Sign-in was refused" in page_text(response)
    assert not Mailbox.objects.exists()


@imap_servers
def test_imap_closed_port_says_the_server_could_not_be_reached(owner_client, dovecot, smtp_sink):
    response = owner_client.post(IMAP_URL, imap_form(dovecot, smtp_sink, imap_port=free_port()))

    (error,) = response.context["form"].non_field_errors()
    assert "could not be reached" in error
    assert not Mailbox.objects.exists()


@imap_servers
def test_imap_connect_refuses_an_address_someone_else_holds(
    owner_client, teammate, dovecot, smtp_sink
):
    personal(teammate, dovecot.email)

    # A wrong password too: the address is refused before any sign-in is tried.
    response = owner_client.post(IMAP_URL, imap_form(dovecot, smtp_sink, password="wrong"))

    (error,) = response.context["form"].non_field_errors()
    assert f"{dovecot.email} is already connected." in error
    assert teammate.display_name not in error
    assert Mailbox.objects.get().owner == teammate


# -- Exchange against the EWS fake ----------------------------------------------------------


@pytest.mark.integration
def test_exchange_connect_with_an_ews_url_saves_the_inbox(owner_client, owner, fake_exchange):
    fake_exchange.add_mailbox("ana@example.test", password=EWS_PASSWORD)

    response = owner_client.post(
        EXCHANGE_URL,
        {"email": "ana@example.test", "password": EWS_PASSWORD, "ews_url": fake_exchange.url},
    )

    assert response.status_code == 302 and response.url == SETTINGS_URL
    box = Mailbox.objects.get(owner=owner)
    assert box.provider == Provider.EXCHANGE
    assert box.config["ews_url"] == fake_exchange.url
    assert box.config["auth_type"] == "basic"
    assert box.secret == {"password": EWS_PASSWORD}
    assert EWS_PASSWORD not in stored_secret(box)


@pytest.mark.integration
def test_exchange_turns_a_pasted_webmail_url_into_the_ews_url(owner_client, owner, fake_exchange):
    fake_exchange.add_mailbox("ana@example.test", password=EWS_PASSWORD)
    webmail = f"https://127.0.0.1:{fake_exchange.server.port}/owa/#path=/mail"

    response = owner_client.post(
        EXCHANGE_URL, {"email": "ana@example.test", "password": EWS_PASSWORD, "ews_url": webmail}
    )

    assert response.status_code == 302
    assert Mailbox.objects.get(owner=owner).config["ews_url"] == fake_exchange.url


@pytest.mark.integration
def test_exchange_failure_keeps_the_suggested_ews_url_in_the_field(owner_client, fake_exchange):
    fake_exchange.add_mailbox("ana@example.test", password=EWS_PASSWORD)
    webmail = f"https://127.0.0.1:{fake_exchange.server.port}/owa/"

    response = owner_client.post(
        EXCHANGE_URL, {"email": "ana@example.test", "password": "wrong", "ews_url": webmail}
    )

    form = response.context["form"]
    assert form["ews_url"].value() == fake_exchange.url
    (error,) = form.non_field_errors()
    assert error.startswith("Sign-in was refused")
    assert not Mailbox.objects.exists()


@pytest.mark.integration
def test_exchange_without_autodiscover_lists_where_it_looked(owner_client, fake_exchange):
    response = owner_client.post(
        EXCHANGE_URL, {"email": "ana@no-such-domain.invalid", "password": EWS_PASSWORD}
    )

    text = page_text(response)
    assert "Autodiscover looked in these places" in text
    assert "https://autodiscover.no-such-domain.invalid/autodiscover/autodiscover.svc" in text
    assert "AutodiscoverStep(" not in text
    assert not Mailbox.objects.exists()


# -- Gmail through the Google fake ----------------------------------------------------------


def start_google(client, email="ana@gmail.com", **params):
    response = client.get(GOOGLE_START, {"email": email, **params})
    assert response.status_code == 302
    return response["Location"]


@pytest.mark.integration
def test_gmail_start_asks_google_for_offline_access_with_pkce(owner_client, fake_google):
    location = start_google(owner_client)

    assert location.startswith(fake_google.auth_uri + "?")
    query = query_of(location)
    assert query["client_id"] == fake_google.client_id
    assert query["access_type"] == "offline"
    assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) >= 43
    assert query["login_hint"] == "ana@gmail.com"
    assert query["redirect_uri"] == GOOGLE_CALLBACK
    flow = owner_client.session["mailbox_oauth"]
    assert flow["state"] == query["state"] and flow["verifier"]


@pytest.mark.integration
def test_gmail_connect_stores_encrypted_tokens_and_send_as_aliases(
    owner_client, owner, fake_google
):
    fake_google.add_send_as("sales@acme.example", "Ana Sales", address="ana@gmail.com")
    fake_google.add_send_as(
        "pending@acme.example", verification_status="pending", address="ana@gmail.com"
    )
    back = consent(start_google(owner_client))

    response = owner_client.get(callback_path(back), follow=True)

    assert response.redirect_chain == [(SETTINGS_URL, 302)]
    assert "ana@gmail.com is connected" in page_text(response)
    box = Mailbox.objects.get(owner=owner)
    assert (box.provider, box.status) == (Provider.GMAIL, MailboxStatus.CONNECTED)
    (grant,) = fake_google.grants.values()
    assert box.secret["refresh_token"] == grant.refresh_token
    raw = stored_secret(box)
    assert grant.refresh_token not in raw and box.secret["access_token"] not in raw
    aliases = {(a.email, a.is_primary) for a in box.aliases.all()}
    assert aliases == {("ana@gmail.com", True), ("sales@acme.example", False)}
    assert "Also sends as: ana@gmail.com, sales@acme.example" in page_text(response)
    assert "mailbox_oauth" not in owner_client.session


@pytest.mark.integration
def test_gmail_reconnect_refreshes_the_same_inbox(owner_client, owner, fake_google):
    box = personal(owner, "ana@gmail.com", provider=Provider.GMAIL, secret={"refresh_token": "x"})
    box.mark_needs_reconnect("Google says the access was revoked.")

    owner_client.get(callback_path(consent(start_google(owner_client))))

    box.refresh_from_db()
    assert box.status == MailboxStatus.CONNECTED and box.status_reason == ""
    assert box.secret["refresh_token"] != "x"
    assert Mailbox.objects.count() == 1


@pytest.mark.integration
def test_gmail_callback_with_another_state_saves_nothing(owner_client, fake_google):
    back = consent(start_google(owner_client))
    forged = back.replace(f"state={query_of(back)['state']}", "state=forged-state")

    response = owner_client.get(callback_path(forged), follow=True)

    assert "This Google sign-in doesn't belong to the connection you started." in page_text(
        response
    )
    assert not Mailbox.objects.exists()
    assert fake_google.token_requests("authorization_code") == []


@pytest.mark.integration
def test_gmail_user_who_denies_access_is_told_nothing_was_connected(owner_client, fake_google):
    fake_google.deny_consent = True
    back = consent(start_google(owner_client))
    assert query_of(back)["error"] == "access_denied"

    response = owner_client.get(callback_path(back), follow=True)

    assert "Google access was not granted, so nothing was connected." in page_text(response)
    assert not Mailbox.objects.exists()


@pytest.mark.integration
def test_gmail_account_someone_else_holds_is_refused_without_naming_them(
    owner_client, teammate, fake_google
):
    personal(teammate, "ana@gmail.com", provider=Provider.GMAIL)

    response = owner_client.get(callback_path(consent(start_google(owner_client))), follow=True)

    assert "ana@gmail.com is already connected." in page_text(response)
    assert teammate.display_name not in page_text(response)
    assert Mailbox.objects.get().owner == teammate


# -- Office 365 through the Microsoft fake --------------------------------------------------


def microsoft_round_trip(client, fake, email):
    response = client.get(MICROSOFT_START, {"email": email})
    assert response.status_code == 302
    assert response["Location"].startswith(fake.authority + "/oauth2/v2.0/authorize?")
    back = consent(response["Location"], verify=str(fake.ca_path))
    assert back.startswith(MICROSOFT_CALLBACK + "?")
    return client.get(callback_path(back), follow=True)


@pytest.mark.integration
def test_office365_connect_stores_encrypted_tokens(owner_client, owner, fake_microsoft):
    fake_microsoft.add_user("ana@contoso.test", "Ana Lopez")

    response = microsoft_round_trip(owner_client, fake_microsoft, "ana@contoso.test")

    assert response.redirect_chain == [(SETTINGS_URL, 302)]
    assert "ana@contoso.test is connected" in page_text(response)
    box = Mailbox.objects.get(owner=owner)
    assert (box.provider, box.email) == (Provider.OFFICE365, "ana@contoso.test")
    (refresh_token,) = fake_microsoft.issued_refresh_tokens("ana@contoso.test")
    assert box.secret["refresh_token"] == refresh_token
    assert refresh_token not in stored_secret(box)


@pytest.mark.integration
def test_office365_shared_mailbox_is_refused_with_the_explanation(owner_client, fake_microsoft):
    fake_microsoft.add_user("info@contoso.test", "Info", purpose="shared")

    response = microsoft_round_trip(owner_client, fake_microsoft, "info@contoso.test")

    assert response.redirect_chain[-1][0] == CONNECT_URL
    text = page_text(response)
    assert SHARED_MAILBOX_MESSAGE % {"address": "info@contoso.test"} in text
    assert "did not answer as expected" not in text
    assert not Mailbox.objects.exists()


@pytest.mark.integration
def test_office365_user_who_declines_consent_gets_a_message_and_nothing_saved(
    owner_client, fake_microsoft
):
    fake_microsoft.add_user("ana@contoso.test")
    start = owner_client.get(MICROSOFT_START, {"email": "ana@contoso.test"})
    declined = fake_microsoft.authorize(start["Location"], deny=True)

    response = owner_client.get(MICROSOFT_CALLBACK, declined, follow=True)

    assert response.redirect_chain == [(CONNECT_URL, 302)]
    assert "the permissions were declined; the inbox was not connected" in page_text(response)
    assert not Mailbox.objects.exists()


@pytest.mark.integration
def test_office365_callback_with_another_state_saves_nothing(owner_client, fake_microsoft):
    fake_microsoft.add_user("ana@contoso.test")
    start = owner_client.get(MICROSOFT_START, {"email": "ana@contoso.test"})
    params = fake_microsoft.authorize(start["Location"])

    response = owner_client.get(
        MICROSOFT_CALLBACK, {**params, "state": "forged-state"}, follow=True
    )

    assert "does not belong to this sign-in" in page_text(response)
    assert not Mailbox.objects.exists()
    assert fake_microsoft.token_requests == []


@pytest.mark.integration
def test_office365_callback_without_a_started_sign_in_saves_nothing(owner_client, fake_microsoft):
    response = owner_client.get(MICROSOFT_CALLBACK, {"code": "x", "state": "y"}, follow=True)

    assert "This Microsoft sign-in doesn't belong to the connection" in page_text(response)
    assert not Mailbox.objects.exists()


# -- team inboxes (admin) -------------------------------------------------------------------


def test_admin_creates_a_team_inbox(admin_client):
    response = admin_client.post(
        reverse("mailboxes:team-inboxes"),
        {"name": "Support", "kind": "help_desk", "display_name": "Acme Support"},
    )

    inbox = TeamInbox.objects.get()
    assert response.url == reverse("mailboxes:team-inbox", args=[inbox.pk])
    assert (inbox.kind, inbox.display_name) == ("help_desk", "Acme Support")
    listing = page_text(admin_client.get(reverse("mailboxes:team-inboxes")))
    assert "Support" in listing and "no address connected" in listing


@pytest.mark.integration
def test_admin_connects_a_team_address_through_gmail(admin_client, support, fake_google):
    detail = reverse("mailboxes:team-inbox", args=[support.pk])

    response = admin_client.post(
        detail, {"action": "connect", "email": "help+desk@gmail.com", "provider": "gmail"}
    )
    assert query_of(response.url) == {"team_inbox": str(support.pk), "email": "help+desk@gmail.com"}
    start = admin_client.get(response.url)
    assert admin_client.session["mailbox_oauth"]["team_inbox"] == support.pk
    back = consent(start["Location"])
    done = admin_client.get(callback_path(back), follow=True)

    assert done.redirect_chain == [(detail, 302)]
    box = Mailbox.objects.get()
    assert (box.kind, box.team_inbox, box.owner) == (MailboxKind.TEAM, support, None)
    assert box.email == "help+desk@gmail.com" and box.display_name == "Support"
    assert "help+desk@gmail.com is connected" in page_text(done)


def test_team_inbox_offers_no_imap_and_refuses_it(admin_client, support):
    detail = reverse("mailboxes:team-inbox", args=[support.pk])

    page = admin_client.get(detail)
    response = admin_client.post(
        detail, {"action": "connect", "email": "help@acme.example", "provider": "imap"}
    )

    assert [v for v, _ in page.context["address_form"].fields["provider"].choices] == [
        "gmail",
        "office365",
    ]
    assert response.status_code == 200
    assert response.context["address_form"].errors["provider"]
    assert not Mailbox.objects.exists()


def test_team_address_held_as_a_personal_inbox_is_refused_saying_only_it_is_taken(
    admin_client, support, teammate
):
    personal(teammate, "help@gmail.com")

    response = admin_client.post(
        reverse("mailboxes:team-inbox", args=[support.pk]),
        {"action": "connect", "email": "help@gmail.com", "provider": "gmail"},
    )

    (error,) = response.context["address_form"].errors["email"]
    assert error.startswith("help@gmail.com is already connected.")
    assert "Settings > All inboxes" in error
    assert teammate.display_name not in error and "teammate" not in error
    assert Mailbox.objects.get().owner == teammate


def test_team_inbox_rename_and_routing_are_saved(admin_client, support, blue):
    box = Mailbox.objects.create(
        kind=MailboxKind.TEAM,
        provider=Provider.GMAIL,
        email="help@acme.example",
        team_inbox=support,
    )

    response = admin_client.post(
        reverse("mailboxes:team-inbox", args=[support.pk]),
        {
            "name": "Help desk",
            "kind": "help_desk",
            "display_name": "Acme Help",
            "route_to_team": blue.pk,
            "route_to_user": "",
        },
    )

    assert response.status_code == 302
    support.refresh_from_db()
    assert (support.name, support.kind, support.route_to_team) == ("Help desk", "help_desk", blue)
    box.refresh_from_db()
    assert box.display_name == "Acme Help"


def test_admin_disconnects_a_team_address(admin_client, support):
    box = Mailbox.objects.create(
        kind=MailboxKind.TEAM,
        provider=Provider.GMAIL,
        email="help@acme.example",
        team_inbox=support,
        secret={"refresh_token": "1//secret"},
    )

    response = admin_client.post(
        reverse("mailboxes:team-inbox-disconnect", args=[support.pk]), follow=True
    )

    assert not Mailbox.objects.filter(pk=box.pk).exists()
    assert TeamInbox.objects.filter(pk=support.pk).exists()
    assert "help@acme.example is disconnected" in page_text(response)
    assert response.context["address_form"] is not None  # ready to connect another


@pytest.mark.parametrize(
    ("method", "name"),
    [
        ("get", "mailboxes:team-inboxes"),
        ("post", "mailboxes:team-inboxes"),
        ("get", "mailboxes:team-inbox"),
        ("post", "mailboxes:team-inbox"),
        ("post", "mailboxes:team-inbox-disconnect"),
    ],
)
def test_team_inbox_pages_are_403_for_non_admins(client, owner, support, method, name):
    client.force_login(owner)
    args = [] if name == "mailboxes:team-inboxes" else [support.pk]

    response = getattr(client, method)(
        reverse(name, args=args), {"action": "connect", "email": "x@gmail.com", "name": "Y"}
    )

    assert response.status_code == 403
    support.refresh_from_db()
    assert support.name == "Support"


@pytest.mark.parametrize("start", [GOOGLE_START, MICROSOFT_START])
def test_team_oauth_start_is_403_for_non_admins(client, owner, support, start):
    client.force_login(owner)

    response = client.get(start, {"team_inbox": support.pk, "email": "help@gmail.com"})

    assert response.status_code == 403
    assert "mailbox_oauth" not in client.session


@pytest.mark.parametrize("team_inbox", ["abc", "999999"])
def test_team_oauth_start_for_no_such_team_inbox_is_a_404(admin_client, team_inbox):
    response = admin_client.get(GOOGLE_START, {"team_inbox": team_inbox})

    assert response.status_code == 404


# -- Settings > All inboxes (admins) --------------------------------------------------------------

ALL_INBOXES_URL = reverse("mailboxes:all-inboxes")


def all_inboxes_disconnect_url(mailbox):
    return reverse("mailboxes:all-inbox-disconnect", args=[mailbox.pk])


def test_admins_see_every_inbox_those_needing_attention_first(
    admin_client, owner, teammate, support
):
    from mailboxes.outbox import throttle

    mine = personal(owner, "owner@acme.example")
    clock.inside_one(clock.MINUTE, needs=10)  # the page reads this minute's count
    with transaction.atomic():
        throttle.take(mine)
    broken = personal(teammate, "teammate@gmail.com", provider=Provider.GMAIL)
    broken.mark_needs_reconnect("Google ended this grant after seven days: the app is in Testing.")
    Mailbox.objects.create(
        kind=MailboxKind.TEAM,
        provider=Provider.GMAIL,
        email="support@acme.example",
        team_inbox=support,
        secret={"refresh_token": "team-secret-token"},
    )

    response = admin_client.get(ALL_INBOXES_URL)

    text = page_text(response)
    assert text.index("teammate@gmail.com") < text.index("owner@acme.example")
    assert "Google ended this grant after seven days: the app is in Testing." in text
    assert teammate.display_name in text and owner.display_name in text
    assert "Team inbox" in text and "Support" in text
    assert "1 of 20 / 1 of 500" in text  # what the owner's inbox sent this minute / today
    assert "hunter2" not in text and "team-secret-token" not in text


def test_the_inbox_list_costs_the_same_queries_for_one_inbox_or_many(admin_client, owner):
    personal(owner, "first@acme.example")
    with CaptureQueriesContext(connection) as one:
        admin_client.get(ALL_INBOXES_URL)
    for n in range(5):
        personal(owner, f"more{n}@acme.example")
    with CaptureQueriesContext(connection) as many:
        admin_client.get(ALL_INBOXES_URL)
    assert len(many.captured_queries) == len(one.captured_queries)


def test_an_admin_disconnects_a_reps_inbox(admin_client, teammate):
    inbox = personal(teammate, "leaver@acme.example")

    assert admin_client.get(all_inboxes_disconnect_url(inbox)).status_code == 405
    response = admin_client.post(all_inboxes_disconnect_url(inbox), follow=True)

    assert response.redirect_chain[-1][0] == ALL_INBOXES_URL
    assert "leaver@acme.example is disconnected and its credentials are deleted." in page_text(
        response
    )
    assert not Mailbox.objects.filter(pk=inbox.pk).exists()


def test_reps_cannot_list_or_disconnect_other_inboxes(owner_client, teammate):
    inbox = personal(teammate, "teammate@acme.example")

    assert owner_client.get(ALL_INBOXES_URL).status_code == 403
    assert owner_client.post(all_inboxes_disconnect_url(inbox)).status_code == 403
    assert Mailbox.objects.filter(pk=inbox.pk).exists()
