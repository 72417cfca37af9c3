"""What the composer checks and keeps: an empty body is refused, an empty subject asks first,
typed web addresses become (tracked) links, the associated contacts are offered for To, files
survive a refused send, and a forward carries the forwarded email's files."""

import email
from email import policy
from email.message import EmailMessage as MimeMessage
from email.utils import make_msgid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings

from mailboxes.composer import body
from mailboxes.composer.drafts import ComposeError, Draft, email_submit
from mailboxes.constants import EMAIL_ACTIVITY, Direction
from mailboxes.mime import parsing
from mailboxes.models import (
    DraftAttachment,
    EmailMessage,
    EmailThread,
    Outbound,
    Signature,
    TrackedLink,
)
from records import timeline
from records.models import CustomObjectType, Record
from records.services import association_create, record_save
from tests.factories import CompanyFactory, ContactFactory, DealFactory, TicketFactory
from tests.mailboxes.inboxes import offline_mailbox

pytestmark = pytest.mark.django_db
BASE = "https://crm.example.com"


@pytest.fixture
def inbox(owner):
    return offline_mailbox(owner)


def draft(owner, inbox, contact, **changes):
    values = dict(
        sender=owner,
        from_key=f"{inbox.pk}:{inbox.email}",
        to=[contact.email],
        subject="Proposal",
        html="<p>Hello</p>",
        records=[contact],
        track=False,
    )
    values.update(changes)
    return Draft(**values)


def post(client, contact, inbox, **fields):
    data = {
        "from_key": f"{inbox.pk}:{inbox.email}",
        "to": "olivia@acme.example",
        "subject": "Our offer",
        "html": "<p>Dear Olivia</p>",
        "records": [str(contact.pk)],
        "send_when": "now",
        **fields,
    }
    return client.post(f"/records/contacts/{contact.pk}/email/", data, HTTP_HX_REQUEST="true")


def received(contact, files=(("quote.pdf", b"%PDF-1.4 quote"), ("terms.txt", b"Terms"))):
    """An email logged on the contact, with these files attached."""
    mime = MimeMessage()
    mime["From"], mime["To"], mime["Subject"] = contact.email, "rep@crm.example", "Documents"
    mime["Message-ID"] = make_msgid(domain="acme.example")
    mime.set_content("Here they are: see https://acme.example/catalogue")
    for name, data in files:
        mime.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
    return EmailMessage.objects.create(
        thread=EmailThread.objects.create(subject="Documents"),
        direction=Direction.INCOMING,
        message_id=mime["Message-ID"],
        from_addr=contact.email,
        to_addrs=["rep@crm.example"],
        subject="Documents",
        raw=mime.as_bytes(policy=policy.SMTP),
        body_parsed=False,
        activity=timeline.log(EMAIL_ACTIVITY, [contact]),
    )


def sent_files(message) -> list[tuple[str, bytes]]:
    mime = email.message_from_bytes(bytes(message.raw), policy=policy.default)
    return [(p.get_filename(), p.get_content()) for p in mime.iter_attachments()]


# --- the body and the subject ---------------------------------------------------------------


@pytest.mark.parametrize(
    "html, empty",
    [
        ("", True),
        ("<div><br></div><p>&nbsp;</p>", True),
        ('<div><br></div><div class="signature"><p>-- Ann, Acme</p></div>', True),
        ('<br><blockquote class="crm-quote"><p>Their email</p></blockquote>', True),
        ("<p>Thanks</p>", False),
        ('<p><img src="cid:x@crm-mail" alt=""></p><div class="signature">Ann</div>', False),
        ('<div class="signature"><div>Ann</div></div><p>P.S. Call me</p>', False),
    ],
)
def test_a_body_is_empty_when_the_rep_wrote_nothing_of_their_own(html, empty):
    assert body.is_empty(html) is empty


def test_an_empty_body_is_refused_but_a_forward_may_carry_the_email_alone(owner, inbox, contact):
    Signature.objects.create(owner=owner, name="Me", body="<p>Ann</p>", is_default=True)
    with pytest.raises(ComposeError) as refused:
        email_submit(draft(owner, inbox, contact, html='<div class="signature"><p>Ann</p></div>'))
    assert "body is empty" in refused.value.message_dict["html"][0]
    first = email_submit(draft(owner, inbox, contact))
    quote = '<blockquote class="crm-quote"><p>Hello</p></blockquote>'
    with pytest.raises(ComposeError):
        email_submit(draft(owner, inbox, contact, html=quote, reply_to=first))
    forward = email_submit(
        draft(owner, inbox, contact, html=quote, forward_of=first, to=["boss@else.example"])
    )
    assert forward.subject == "Proposal"


def test_an_empty_subject_asks_first_then_sends_once_confirmed(client, owner, inbox, contact):
    client.force_login(owner)
    asked = post(client, contact, inbox, subject="")
    page = asked.content.decode()
    assert "This email has no subject." in page and "Send without subject" in page
    assert 'data-confirm-subject role="alert">' in page  # shown, not hidden
    assert not EmailMessage.objects.exists()
    post(client, contact, inbox, subject="", no_subject_confirmed="1")
    assert EmailMessage.objects.get().subject == ""


def test_an_empty_body_is_refused_by_the_server(client, owner, inbox, contact):
    client.force_login(owner)
    page = post(client, contact, inbox, html="<div><br></div>").content.decode()
    assert "Write a message: the email&#x27;s body is empty." in page
    assert not EmailMessage.objects.exists()


def test_one_refusal_names_the_empty_subject_the_empty_body_and_the_missing_tokens(
    client, owner, inbox
):
    deal = DealFactory(owner=owner)
    client.force_login(owner)
    page = client.post(
        f"/records/deals/{deal.pk}/email/",
        {
            "from_key": f"{inbox.pk}:{inbox.email}",
            "to": "someone@else.example",
            "subject": "",
            "html": "{{ contact.first_name }}",
            "records": [str(deal.pk)],
            "send_when": "now",
        },
        HTTP_HX_REQUEST="true",
    ).content.decode()
    assert "This email has no subject." in page
    assert "These tokens have no value for this email: {{ contact.first_name }}" in page
    # The token is listed for filling in, its box named for the rep.
    assert 'data-token="contact.first_name"' in page
    assert 'aria-label="Value for Contact first name"' in page
    assert not EmailMessage.objects.exists()


# --- typed web addresses --------------------------------------------------------------------


@override_settings(CRM_BASE_URL=BASE, TRACKING_BUFFER="direct")
def test_typed_web_addresses_become_tracked_links_outside_the_quote(owner, inbox, contact):
    first = received(contact)
    html = (
        "<p>Prices: https://acme.example/pricing?x=1&amp;y=2. Docs at www.acme.example/docs,"
        ' and <a href="https://acme.example/mine">mine</a>; https://acme.example/catalogue</p>'
        '<blockquote class="crm-quote"><p>https://stranger.example/win</p></blockquote>'
    )
    message = email_submit(draft(owner, inbox, contact, html=html, reply_to=first, track=True))
    tracked = set(TrackedLink.objects.filter(message=message).values_list("url", flat=True))
    # The catalogue is the forwarded email's, typed out again: not the rep's to track.
    assert tracked == {
        "https://acme.example/pricing?x=1&y=2",
        "https://www.acme.example/docs",
        "https://acme.example/mine",
    }
    assert "https://stranger.example/win</p>" in message.html_body  # no link made in the quote
    assert ">www.acme.example/docs</a>," in message.html_body


def test_linkify_keeps_the_text_around_and_leaves_links_alone():
    assert body.linkify("<p>(see https://a.example/x_(y)) and http://b.example.</p>") == (
        '<p>(see <a href="https://a.example/x_(y)">https://a.example/x_(y)</a>) and '
        '<a href="http://b.example">http://b.example</a>.</p>'
    )
    linked = '<p><a href="https://a.example">https://a.example</a> www. http://</p>'
    assert body.linkify(linked) == linked


# --- To -------------------------------------------------------------------------------------


def test_deals_companies_tickets_and_custom_objects_offer_their_contacts_for_to(
    client, owner, inbox, contact
):
    bob = ContactFactory(owner=owner, first_name="Bob", last_name="B", emails=["bob@acme.example"])
    kind = CustomObjectType.objects.create(name="Boat", plural="Boats", slug="boats")
    records = {
        "deals": DealFactory(owner=owner),
        "companies": CompanyFactory(owner=owner),
        "tickets": TicketFactory(owner=owner),
        "boats": record_save(Record(kind="custom", custom_type=kind, name="Sea", owner=owner)),
    }
    client.force_login(owner)
    for slug, record in records.items():
        association_create(record, contact)
        form = client.get(f"/records/{slug}/{record.pk}/email/", HTTP_HX_REQUEST="true")
        # One contact: it is the recipient, except on a custom object (as in HubSpot).
        assert form.context["form"].initial["to"] == ("" if slug == "boats" else contact.email)
        association_create(record, bob)
        response = client.get(f"/records/{slug}/{record.pk}/email/", HTTP_HX_REQUEST="true")
        assert response.context["form"].initial["to"] == ""  # two: the rep chooses
        offered = [(r.name, r.address) for r in response.context["offered"]]
        assert offered == [("Bob B", "bob@acme.example"), ("Olivia Owned", contact.email)]
        assert 'data-add-to="bob@acme.example"' in response.content.decode()


def test_contacts_the_rep_may_not_see_are_not_offered(client, owner, outsider, inbox, contact):
    deal = DealFactory(owner=owner)
    association_create(deal, ContactFactory(owner=outsider, emails=["hidden@red.example"]))
    client.force_login(owner)
    response = client.get(f"/records/deals/{deal.pk}/email/", HTTP_HX_REQUEST="true")
    assert response.context["offered"] == []
    assert "hidden@red.example" not in response.content.decode()


# --- files ----------------------------------------------------------------------------------


def test_a_refused_send_keeps_the_chosen_files_for_the_next_try(client, owner, inbox, contact):
    client.force_login(owner)
    pdf = SimpleUploadedFile("quote.pdf", b"%PDF-1.4 quote", content_type="application/pdf")
    page = post(client, contact, inbox, to="nope", attachments=[pdf]).content.decode()
    assert "Not valid email addresses: nope" in page
    kept = DraftAttachment.objects.get()
    assert (kept.owner, kept.filename, bytes(kept.data)) == (owner, "quote.pdf", b"%PDF-1.4 quote")
    assert f'name="keep_attachment" value="draft:{kept.key}"' in page
    assert "Remove quote.pdf" in page

    post(client, contact, inbox, keep_attachment=[f"draft:{kept.key}"])
    assert sent_files(EmailMessage.objects.get()) == [("quote.pdf", b"%PDF-1.4 quote")]
    assert not DraftAttachment.objects.exists()  # used, so gone


def test_another_users_kept_file_cannot_be_attached(client, owner, teammate, inbox, contact):
    theirs = DraftAttachment.objects.create(
        owner=teammate, filename="secret.pdf", content_type="application/pdf", size=3, data=b"abc"
    )
    client.force_login(owner)
    post(client, contact, inbox, keep_attachment=[f"draft:{theirs.key}", "draft:bogus"])
    assert sent_files(EmailMessage.objects.get()) == []
    assert DraftAttachment.objects.filter(pk=theirs.pk).exists()


@override_settings(CRM_ATTACHMENTS_MAX_BYTES=10)
def test_files_over_the_limit_are_not_kept_and_the_rep_is_told(client, owner, inbox, contact):
    client.force_login(owner)
    big = SimpleUploadedFile("big.bin", b"0" * 11)
    page = post(client, contact, inbox, attachments=[big]).content.decode()
    assert "may total" in page and "were not kept" in page
    assert not DraftAttachment.objects.exists() and not EmailMessage.objects.exists()


def test_a_forward_lists_the_forwarded_files_and_carries_those_left(client, owner, inbox, contact):
    original = received(contact)
    client.force_login(owner)
    url = f"/records/contacts/{contact.pk}/email/?reply_to={original.pk}&mode=forward"
    response = client.get(url, HTTP_HX_REQUEST="true")
    kept = [(k.value, k.filename, k.size) for k in response.context["kept"]]
    assert kept == [("forward:0", "quote.pdf", 14), ("forward:1", "terms.txt", 5)]
    assert "Remove terms.txt" in response.content.decode()

    post(
        client,
        contact,
        inbox,
        to="boss@else.example",
        subject="Fwd: Documents",
        html="",
        reply_to=str(original.pk),
        mode="forward",
        keep_attachment=["forward:1", "forward:7"],  # the rep removed the quote; 7 is no file
    )
    forward = EmailMessage.objects.get(direction=Direction.OUTGOING)
    assert sent_files(forward) == [("terms.txt", b"Terms")]
    assert Outbound.objects.get().attachments.get().filename == "terms.txt"


def test_attached_files_are_every_attachment_but_the_bodys_own_images():
    mime = MimeMessage()
    mime["From"], mime["Subject"] = "a@x.example", "x"
    mime.set_content("text")
    mime.add_alternative('<p><img src="cid:logo@x"></p>', subtype="html")
    mime.get_payload()[1].add_related(b"PNG", "image", "png", cid="<logo@x>")
    mime.add_attachment(b"%PDF", maintype="application", subtype="pdf", filename="a.pdf")
    files = parsing.attached_files(mime.as_bytes())
    assert [(f.filename, f.content_type, data) for f, data in files] == [
        ("a.pdf", "application/pdf", b"%PDF")
    ]
    assert parsing.attached_files(b"not a message") == []
