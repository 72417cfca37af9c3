"""What a rep's email preferences and the composer's per-email switches do to the email a real
SMTP server (aiosmtpd) receives: an untracked email carries no open pixel and no rewritten
link, a tracked one both; the rep's font is in the HTML; an email not logged is sent all the
same and is on no timeline."""

import email
import re
from email import policy

import pytest
from django.urls import reverse

from mailboxes.constants import SendStatus
from mailboxes.models import EmailMessage, Outbound
from mailboxes.outbox.sending import send_outbound
from mailboxes.preferences.services import email_preferences_save
from records.models import Activity

from .inboxes import REP_ADDRESS, imap_mailbox

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db,
    pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning"),
]
LINK = "https://acme.example/pricing"
PIXEL = re.compile(r'<img src="[^"]*/t/o/[^"]+\.gif"')


@pytest.fixture
def inbox(owner, dovecot, smtp_sink):
    return imap_mailbox(owner, dovecot, smtp_sink)


def compose(client, contact, inbox, **switches) -> EmailMessage:
    """Send from the composer on the contact's page as the rep would: the switches given
    ("track", "log") ticked, the others not."""
    url = reverse("mailboxes:compose", args=["contacts", contact.pk])
    response = client.post(
        url,
        {
            "from_key": f"{inbox.pk}:{inbox.email}",
            "to": contact.email,
            "subject": "Our prices",
            "html": f'<div>Our prices are <a href="{LINK}">here</a>.</div>',
            "records": [str(contact.pk)],
            "send_when": "now",
            **{name: "on" for name, on in switches.items() if on},
        },
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    return EmailMessage.objects.get(subject="Our prices")


def received_html(smtp_sink) -> str:
    (received,) = smtp_sink.messages
    assert received.mail_from == REP_ADDRESS
    mime = email.message_from_bytes(received.data, policy=policy.default)
    return mime.get_body(("html",)).get_content()


def tracked_or_not(client, owner, contact, inbox, smtp_sink, *, track, **preferences) -> str:
    """Save the rep's preferences, check the composer opens with the opposite of `track`, send
    with `track` chosen for this email and return the HTML the server received."""
    email_preferences_save(owner, track_by_default=not track, **preferences)
    client.force_login(owner)
    form = client.get(reverse("mailboxes:compose", args=["contacts", contact.pk])).context["form"]
    assert form.initial["track"] is not track
    message = compose(client, contact, inbox, track=track, log=True)
    assert send_outbound(message.outbound.pk) == SendStatus.SENT
    return received_html(smtp_sink)


def test_an_email_the_rep_chose_not_to_track_reaches_the_server_without_pixel_or_tracked_link(
    client, owner, contact, inbox, smtp_sink
):
    html = tracked_or_not(
        client, owner, contact, inbox, smtp_sink, track=False, font_family="georgia", font_size=16
    )
    assert "/t/" not in html and not PIXEL.search(html)
    assert f'href="{LINK}"' in html
    assert html.startswith('<div style="font-family:Georgia, serif;font-size:16px">')


def test_an_email_the_rep_chose_to_track_reaches_the_server_with_pixel_and_tracked_link(
    client, owner, contact, inbox, smtp_sink
):
    html = tracked_or_not(
        client, owner, contact, inbox, smtp_sink, track=True, font_family="verdana", font_size=12
    )
    assert PIXEL.search(html)
    assert re.search(r'href="[^"]*/t/c/[^"]+"', html) and f'href="{LINK}"' not in html
    assert "font-family:Verdana, Geneva, sans-serif;font-size:12px" in html


def test_an_email_not_logged_is_sent_and_put_on_no_timeline(
    client, owner, contact, inbox, smtp_sink
):
    email_preferences_save(owner, log_by_default=False)
    client.force_login(owner)

    message = compose(client, contact, inbox, track=True, log=False)
    assert send_outbound(message.outbound.pk) == SendStatus.SENT

    assert "Our prices are" in received_html(smtp_sink)
    assert Outbound.objects.get(pk=message.outbound.pk).status == SendStatus.SENT
    assert message.activity_id is None and not Activity.objects.exists()
    record_page = client.get(reverse("records:detail", args=["contacts", contact.pk]))
    assert "Our prices" not in record_page.content.decode()
    home = client.get(reverse("mailboxes:ledger")).content.decode()
    assert "Our prices" in home and "Not logged" in home
