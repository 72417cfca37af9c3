"""Each user's email preferences (Settings > General, "Email"): what the form accepts and
refuses, and what the composer and the sent email do with them. The sends that reach a real
SMTP server are in test_sending_preferences.py."""

import email
from email import policy
from html import unescape

import pytest
from django.urls import reverse

from mailboxes.connecting.services import mailbox_connect_team
from mailboxes.models import EmailMessage, EmailPreferences, SendAsAddress, TeamInbox
from mailboxes.preferences.services import email_preferences_save
from records.models import Activity
from tests.mailboxes.inboxes import default_inbox, offline_mailbox
from tests.mailboxes.outbox import submit

pytestmark = pytest.mark.django_db
GENERAL = reverse("records:settings-general")
LEDGER = reverse("mailboxes:ledger")


def general_form(owner, **email):
    """What Settings > General posts: the user's profile as it is, and `email` fields."""
    profile = {
        "profile-first_name": owner.first_name,
        "profile-last_name": owner.last_name,
        "profile-profile_name": owner.profile_name,
        "profile-time_zone": owner.time_zone or "UTC",
    }
    values = {"font_family": "", "font_size": "", "log_by_default": "on", "track_by_default": "on"}
    values.update(email)
    return profile | {f"email-{k}": v for k, v in values.items() if v is not None}


def compose_url(contact) -> str:
    return reverse("mailboxes:compose", args=["contacts", contact.pk])


def page(response) -> str:
    assert response.status_code == 200
    return unescape(response.content.decode())


def help_desk(user):
    """A help-desk address routed to `user` (their From menu offers it)."""
    support = TeamInbox.objects.create(name="Support", kind="help_desk", route_to_user=user)
    return mailbox_connect_team(
        support, provider="gmail", email="help@crm.example", secret={}, config={}
    )


@pytest.fixture
def inbox(owner):
    return offline_mailbox(owner)


@pytest.fixture
def alias(inbox):
    return SendAsAddress.objects.create(
        mailbox=inbox, email="sales@crm.example", display_name="Acme Sales"
    )


# -- the defaults, when the user has saved nothing -----------------------------------------------


def test_without_preferences_new_email_is_logged_tracked_and_in_the_recipients_font(
    client, owner, inbox, contact
):
    client.force_login(owner)
    settings_page = page(client.get(GENERAL))
    assert "Log new emails in the CRM" in settings_page
    form = client.get(compose_url(contact), HTTP_HX_REQUEST="true").context["form"]
    assert (form.initial["log"], form.initial["track"]) == (True, True)
    assert form.initial["from_key"] == f"{inbox.pk}:{inbox.email}"

    message = submit(owner, inbox).message

    assert not EmailPreferences.objects.exists()
    assert message.activity is not None
    assert "font-family" not in message.html_body and "font-size" not in message.html_body


# -- the form on Settings > General --------------------------------------------------------------


def test_a_user_saves_their_from_font_and_switches_and_the_composer_opens_with_them(
    client, owner, inbox, alias, contact
):
    client.force_login(owner)
    response = client.post(
        GENERAL,
        general_form(
            owner,
            default_from=f"{inbox.pk}:sales@crm.example",
            font_family="georgia",
            font_size="16",
            log_by_default=None,
            track_by_default=None,
        ),
        follow=True,
    )
    assert "Your preferences are saved." in page(response)
    saved = EmailPreferences.objects.get(user=owner)
    assert (saved.from_mailbox, saved.from_address) == (inbox, "sales@crm.example")
    assert (saved.font_family, saved.font_size) == ("georgia", 16)
    assert (saved.log_by_default, saved.track_by_default) == (False, False)

    response = client.get(compose_url(contact), HTTP_HX_REQUEST="true")
    form = response.context["form"]
    assert form.initial["from_key"] == f"{inbox.pk}:sales@crm.example"
    assert (form.initial["log"], form.initial["track"]) == (False, False)
    composer = page(response)
    # The editor takes the font from data attributes (the CSP allows no style attribute here).
    assert 'data-font-family="Georgia, serif" data-font-size="16px"' in composer
    assert "Puts this email on the timeline of the records it is associated with." in composer


def test_a_font_not_offered_is_refused_beside_the_field_and_nothing_is_saved(client, owner, inbox):
    client.force_login(owner)
    form = general_form(owner, font_family="comic-sans", font_size="16")
    form["profile-profile_name"] = "Changed name"

    answer = page(client.post(GENERAL, form))

    assert "Choose one of the fonts offered." in answer
    assert "Nothing was saved" in answer
    assert 'value="Changed name"' in answer  # what was typed is kept
    assert not EmailPreferences.objects.exists()
    owner.refresh_from_db()
    assert owner.profile_name != "Changed name"  # the profile waits for the font too


def test_a_size_not_offered_is_refused(client, owner, inbox):
    client.force_login(owner)
    answer = page(client.post(GENERAL, general_form(owner, font_size="72")))
    assert "Choose one of the sizes offered." in answer
    assert not EmailPreferences.objects.exists()


def test_the_from_is_one_of_the_users_own_addresses(client, owner, teammate, inbox, alias):
    theirs = offline_mailbox(teammate, email="teammate@crm.example")
    team = help_desk(owner)
    client.force_login(owner)
    offered = page(client.get(GENERAL))
    assert "rep@crm.example" in offered and "Acme Sales <sales@crm.example>" in offered
    assert "teammate@crm.example" not in offered and "help@crm.example" not in offered

    for key in (f"{theirs.pk}:{theirs.email}", f"{team.pk}:{team.email}", f"{inbox.pk}:x@y.z"):
        answer = page(client.post(GENERAL, general_form(owner, default_from=key)))
        assert "Choose one of your own addresses." in answer
    assert not EmailPreferences.objects.exists()


def test_without_an_inbox_the_section_says_so_and_saves_the_rest(client, owner):
    client.force_login(owner)
    section = page(client.get(GENERAL))
    assert "You have no inbox connected yet" in section
    assert f'href="{reverse("mailboxes:connect")}"' in section
    assert "email-default_from" not in section

    client.post(GENERAL, general_form(owner, font_family="verdana", font_size="12"))

    saved = EmailPreferences.objects.get(user=owner)
    assert (saved.from_mailbox, saved.font_family, saved.font_size) == (None, "verdana", 12)


def test_a_lost_alias_falls_back_to_its_inbox(owner, inbox, alias):
    email_preferences_save(owner, from_mailbox=inbox, from_address=alias.email)
    alias.delete()  # the provider no longer lists it
    assert default_inbox(owner) == inbox


# -- the sent email ------------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ["nh3", "bleach"])
def test_the_sent_html_carries_the_font_and_the_quote_keeps_its_own(
    settings, engine, owner, inbox, contact
):
    settings.CRM_HTML_SANITIZER = engine
    email_preferences_save(owner, font_family="trebuchet", font_size=13)
    quote = (
        '<blockquote class="crm-quote"><p style="font-family:Courier New;color:#555">'
        "Earlier words</p></blockquote>"
    )

    message = submit(owner, inbox, html=f"<div>Thanks, Olivia.</div>{quote}").message

    opening = "<div style=\"font-family:'Trebuchet MS', Helvetica, sans-serif;font-size:13px\">"
    assert message.html_body.startswith(opening)
    assert message.html_body.endswith("</div>")
    assert '<p style="font-family:Courier New;color:#555">Earlier words</p>' in message.html_body
    assert sent_html(message).startswith(opening)  # and the email as it goes out


def sent_html(message) -> str:
    mime = email.message_from_bytes(bytes(message.raw), policy=policy.default)
    return mime.get_body(("html",)).get_content()


# -- an email not logged --------------------------------------------------------------------------


def test_an_email_not_logged_is_on_no_timeline_and_listed_on_the_senders_email_home(
    client, owner, admin_user, inbox, contact
):
    client.force_login(owner)
    response = client.post(
        compose_url(contact),
        {
            "from_key": f"{inbox.pk}:{inbox.email}",
            "to": contact.email,
            "subject": "Off the record",
            "html": "<p>Between us.</p>",
            "records": [str(contact.pk)],
            "send_when": "now",
            "track": "on",
        },
        HTTP_HX_REQUEST="true",
    )

    answer = page(response)
    assert "It is not logged in the CRM:" in answer and f'href="{LEDGER}"' in answer
    assert "timeline-items" not in answer  # nothing joins the timeline
    message = EmailMessage.objects.get(subject="Off the record")
    assert message.activity is None and not Activity.objects.exists()
    assert list(message.contacts.all()) == [contact]
    assert "Off the record" not in page(
        client.get(reverse("records:detail", args=["contacts", contact.pk]))
    )
    home = page(client.get(LEDGER))
    assert "Off the record" in home and "Not logged" in home
    # It is the sender's alone: an admin looking at everyone's email does not see it.
    client.force_login(admin_user)
    assert "Off the record" not in page(client.get(LEDGER, {"who": "everyone"}))


def test_a_help_desk_email_is_always_logged_on_its_ticket(owner, contact):
    message = submit(owner, help_desk(owner), log=False).message

    assert message.activity is not None
    assert message.activity.links.filter(record__kind="ticket").exists()
