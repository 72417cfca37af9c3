"""The composer panel: who may open it, what it pre-fills, and what a bad send gives back."""

import pytest

from mailboxes.composer.drafts import Draft, email_submit
from mailboxes.connecting.services import mailbox_connect_personal
from mailboxes.models import EmailMessage, Signature
from records.models import CustomObjectType, Record
from records.services import record_save

pytestmark = pytest.mark.django_db
IMAP = {
    "imap_host": "h",
    "imap_port": 1,
    "imap_security": "none",
    "smtp_host": "h",
    "smtp_port": 1,
    "smtp_security": "none",
}


@pytest.fixture
def inbox(owner):
    return mailbox_connect_personal(
        owner, provider="imap", email="rep@crm.example", secret={"password": "x"}, config=IMAP
    )


def test_composer_prefills_the_primary_address_default_from_and_signature(
    client, owner, inbox, contact
):
    Signature.objects.create(
        owner=owner, name="Main", body="<p>-- Olivia's rep</p>", is_default=True
    )
    client.force_login(owner)
    response = client.get(f"/records/contacts/{contact.pk}/email/", HTTP_HX_REQUEST="true")
    form = response.context["form"]
    assert form.initial["to"] == "olivia@acme.example"
    assert form.initial["from_key"] == f"{inbox.pk}:rep@crm.example"
    assert "Olivia's rep" in form.initial["html"]
    body = response.content.decode()
    assert "o.owned@home.example" in body  # the menu of the contact's other addresses
    assert 'id="privacy-check"' in body


def test_composer_on_a_custom_object_has_no_recipient(client, owner, inbox):
    kind = CustomObjectType.objects.create(name="Boat", plural="Boats", slug="boats")
    boat = record_save(Record(kind="custom", custom_type=kind, name="Sea Breeze", owner=owner))
    client.force_login(owner)
    form = client.get(f"/records/boats/{boat.pk}/email/", HTTP_HX_REQUEST="true").context["form"]
    assert not form.initial.get("to")


def test_composer_is_closed_to_outsiders_and_view_only_seats(client, outsider, viewer, contact):
    client.force_login(outsider)
    assert client.get(f"/records/contacts/{contact.pk}/email/").status_code == 404
    client.force_login(viewer)
    assert client.get(f"/records/contacts/{contact.pk}/email/").status_code == 403
    assert client.post(f"/records/contacts/{contact.pk}/email/", {}).status_code == 403


def test_a_refused_send_keeps_what_was_typed(client, owner, inbox, contact):
    client.force_login(owner)
    response = client.post(
        f"/records/contacts/{contact.pk}/email/",
        {
            "from_key": f"{inbox.pk}:rep@crm.example",
            "to": "olivia@acme.example, nope",
            "subject": "Our offer",
            "html": "<p>Dear Olivia</p>",
            "records": [str(contact.pk)],
            "send_when": "now",
        },
        HTTP_HX_REQUEST="true",
    )
    body = response.content.decode()
    assert "Not valid email addresses: nope" in body
    assert 'value="Our offer"' in body and "Dear Olivia" in body
    assert not EmailMessage.objects.exists()


def test_a_from_address_of_someone_else_is_refused(client, owner, teammate, inbox, contact):
    theirs = mailbox_connect_personal(
        teammate, provider="imap", email="mate@crm.example", secret={"password": "x"}, config=IMAP
    )
    client.force_login(owner)
    response = client.post(
        f"/records/contacts/{contact.pk}/email/",
        {
            "from_key": f"{theirs.pk}:mate@crm.example",
            "to": "olivia@acme.example",
            "subject": "s",
            "html": "b",
            "send_when": "now",
        },
    )
    assert "Select a valid choice" in response.content.decode()
    assert not EmailMessage.objects.exists()


def test_reply_to_a_teammates_email_goes_to_the_teammate_only(client, owner, teammate, contact):
    theirs = mailbox_connect_personal(
        teammate, provider="imap", email="mate@crm.example", secret={"password": "x"}, config=IMAP
    )
    mailbox_connect_personal(
        owner, provider="imap", email="rep@crm.example", secret={"password": "x"}, config=IMAP
    )
    sent = email_submit(
        Draft(
            sender=teammate,
            from_key=f"{theirs.pk}:mate@crm.example",
            to=["olivia@acme.example"],
            cc=["cc@acme.example"],
            subject="Kickoff",
            html="<p>Hi</p>",
            records=[contact],
            track=False,
        )
    )
    client.force_login(owner)
    url = f"/records/contacts/{contact.pk}/email/?reply_to={sent.pk}&mode=reply_all"
    form = client.get(url, HTTP_HX_REQUEST="true").context["form"]
    assert form.initial["to"] == "mate@crm.example"
    assert form.initial["subject"] == "Re: Kickoff"


def test_replying_to_an_email_on_another_record_is_404(client, owner, inbox, contact):
    from tests.factories import ContactFactory

    other = ContactFactory(owner=owner)
    sent = email_submit(
        Draft(
            sender=owner,
            from_key=f"{inbox.pk}:rep@crm.example",
            to=["olivia@acme.example"],
            subject="s",
            html="b",
            records=[contact],
            track=False,
        )
    )
    client.force_login(owner)
    url = f"/records/contacts/{other.pk}/email/?reply_to={sent.pk}&mode=reply"
    assert client.get(url).status_code == 404


def test_email_body_is_served_with_a_script_free_csp_and_only_to_those_with_access(
    client, owner, outsider, inbox, contact
):
    sent = email_submit(
        Draft(
            sender=owner,
            from_key=f"{inbox.pk}:rep@crm.example",
            to=["olivia@acme.example"],
            subject="s",
            html='<p onclick="x()">Hi<script>alert(1)</script></p>',
            records=[contact],
            track=False,
        )
    )
    client.force_login(owner)
    response = client.get(f"/email/{sent.pk}/body/")
    assert "script-src" not in response["Content-Security-Policy"]
    assert "default-src 'none'" in response["Content-Security-Policy"]
    assert b"<script" not in response.content and b"onclick" not in response.content
    assert response["X-Frame-Options"] == "SAMEORIGIN"
    client.force_login(outsider)
    assert client.get(f"/email/{sent.pk}/body/").status_code == 404
