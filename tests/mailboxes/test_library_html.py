"""Templates, snippets and signatures are HTML written by users and inserted into other users'
composers: sanitized when saved, and again whenever the composer hands them out, so rows stored
before the sanitizer covered them are harmless too."""

import json
from html import unescape

import pytest

from mailboxes.mime.sanitize import ENGINES
from mailboxes.models import EmailTemplate, Signature, Snippet
from tests.mailboxes.inboxes import unreachable_mailbox

pytestmark = pytest.mark.django_db
HOSTILE = (
    '<p>Hello</p><img src=x onerror="alert(1)"><script>alert(2)</script>'
    '<a href="javascript:alert(3)">link</a><svg onload="alert(4)"></svg>'
)
WEAPONS = ("onerror", "<script", "javascript:", "onload", "<svg")
KINDS = {"templates": EmailTemplate, "snippets": Snippet, "signatures": Signature}


def assert_harmless(html: str) -> None:
    found = [w for w in WEAPONS if w in html.lower()]
    assert not found, f"{found} in {html!r}"


def editor_start(response) -> str:
    """The HTML the composer's editor starts with (its textarea, which the script parses)."""
    page = response.content.decode()
    return unescape(page.split('<textarea name="html"')[1].split(">", 1)[1].split("</textarea>")[0])


def snippet_menu(response) -> dict[str, str]:
    """The composer's snippet menu: {name: the HTML its option inserts}."""
    menu = response.content.decode().split("data-insert-snippet")[1].split("</select>")[0]
    options = menu.split("<option ")[2:]  # the first is the menu's title
    return {
        unescape(o.split(">", 1)[1].split("</option>")[0]): unescape(
            o.split('value="')[1].split('"')[0]
        )
        for o in options
    }


# --- sanitized when handed out, whenever it was stored -------------------------------------


def test_a_stored_snippet_comes_back_sanitized_in_the_composer(client, owner, contact):
    """A row saved before the fix (unsanitized) is inserted sanitized."""
    unreachable_mailbox(owner, "rep@crm.example")
    Snippet.objects.create(owner=owner, name="Bad", body='<p>Hi</p><img src=x onerror="alert(1)">')
    client.force_login(owner)
    response = client.get(f"/records/contacts/{contact.pk}/email/")
    # The relative src goes too: it would resolve against the app.
    assert snippet_menu(response) == {"Bad": "<p>Hi</p><img>"}
    assert "onerror" not in response.content.decode()


def test_a_stored_template_comes_back_sanitized_from_the_endpoint(client, owner, contact):
    unreachable_mailbox(owner, "rep@crm.example")
    template = EmailTemplate.objects.create(
        owner=owner, name="Intro", subject="Hi {{ contact.first_name }}", body=HOSTILE
    )
    client.force_login(owner)
    response = client.get(f"/records/contacts/{contact.pk}/email/templates/{template.pk}/")
    data = json.loads(response.content)
    assert data["subject"] == "Hi Olivia"
    assert "<p>Hello</p>" in data["html"]
    assert_harmless(data["html"])


def test_a_stored_signature_is_sanitized_in_a_new_email(client, owner, contact):
    unreachable_mailbox(owner, "rep@crm.example")
    Signature.objects.create(owner=owner, name="Main", body=HOSTILE, is_default=True)
    client.force_login(owner)
    response = client.get(f"/records/contacts/{contact.pk}/email/")
    assert '<div class="signature"><p>Hello</p>' in editor_start(response)
    assert_harmless(editor_start(response))


def test_what_the_editor_gets_back_after_a_refused_send_is_sanitized(client, owner, contact):
    inbox = unreachable_mailbox(owner, "rep@crm.example")
    client.force_login(owner)
    response = client.post(
        f"/records/contacts/{contact.pk}/email/",
        {
            "from_key": f"{inbox.pk}:rep@crm.example",
            "to": "olivia@acme.example",
            "html": HOSTILE,
            "send_when": "custom",  # without a date: the form comes back
            "records": [str(contact.pk)],
        },
    )
    assert response.context["form"].errors
    assert editor_start(response).startswith("<p>Hello</p>")
    assert_harmless(editor_start(response))


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("kind", KINDS)
def test_bodies_are_sanitized_when_saved(client, owner, kind, engine, settings):
    settings.CRM_HTML_SANITIZER = engine
    client.force_login(owner)
    data = {"name": "Mine", "subject": "s", "body": HOSTILE, "sharing": "private"}
    response = client.post(f"/settings/email/{kind}/", data)
    assert response.status_code == 302
    body = KINDS[kind].objects.get(name="Mine").body
    assert "<p>Hello</p>" in body
    assert_harmless(body)


@pytest.mark.parametrize("kind", KINDS)
def test_a_body_written_as_plain_text_keeps_its_line_breaks(client, owner, kind):
    client.force_login(owner)
    page = client.get(f"/settings/email/{kind}/").content.decode()
    assert "data-rich-text" in page  # the editor takes the textarea over
    data = {"name": "Mine", "subject": "s", "body": "Hi,\n\nsee you\nsoon & <b>then</b>"}
    client.post(f"/settings/email/{kind}/", {**data, "sharing": "private"})
    body = KINDS[kind].objects.get(name="Mine").body
    assert body == "<p>Hi,</p>\n\n<p>see you<br>soon &amp; <b>then</b></p>"


def test_a_plain_text_row_saved_before_keeps_its_line_breaks_in_the_composer(
    client, owner, contact
):
    unreachable_mailbox(owner, "rep@crm.example")
    Snippet.objects.create(owner=owner, name="Old", body="Thanks,\nAnn")
    client.force_login(owner)
    response = client.get(f"/records/contacts/{contact.pk}/email/")
    assert snippet_menu(response) == {"Old": "<p>Thanks,<br>Ann</p>"}
