"""Who may use, edit and create templates, snippets and signatures: sharing scopes (private,
team, everyone) on every read, the owner or an admin on every change, no change at all from a
View-only seat."""

import pytest

from mailboxes.constants import Sharing
from mailboxes.models import EmailTemplate, Outbound, Signature, Snippet
from tests.factories import ContactFactory
from tests.mailboxes.inboxes import unreachable_mailbox

pytestmark = pytest.mark.django_db
KINDS = {"templates": EmailTemplate, "snippets": Snippet, "signatures": Signature}


def composer(client, user, record):
    client.force_login(user)
    response = client.get(f"/records/contacts/{record.pk}/email/")
    assert response.status_code == 200
    return response


# --- seats --------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_a_view_only_seat_creates_changes_and_deletes_nothing(client, viewer, kind):
    model = KINDS[kind]
    fields = {"sharing": Sharing.PRIVATE} if model is not Signature else {}
    own = model.objects.create(owner=viewer, name="Old", body="<p>old</p>", **fields)
    client.force_login(viewer)
    data = {"name": "New", "subject": "s", "body": "<p>new</p>", "sharing": "everyone"}
    assert client.post(f"/settings/email/{kind}/", data).status_code == 403
    assert client.post(f"/settings/email/{kind}/{own.pk}/", data).status_code == 403
    assert client.post(f"/settings/email/{kind}/{own.pk}/delete/").status_code == 403
    assert list(model.objects.values_list("name", "body")) == [("Old", "<p>old</p>")]
    page = client.get(f"/settings/email/{kind}/")
    assert page.status_code == 200
    assert page.context["form"] is None
    assert "A View-only seat can&#x27;t create or change" in page.content.decode()
    assert f"/settings/email/{kind}/{own.pk}/delete/" not in page.content.decode()


# --- sharing scopes -----------------------------------------------------------------------


@pytest.fixture
def library(owner):
    """One template and one snippet of the owner's per scope."""
    made = {}
    for scope in Sharing:
        made[("templates", scope)] = EmailTemplate.objects.create(
            owner=owner, name=f"T {scope}", body=f"<p>{scope}</p>", sharing=scope
        )
        made[("snippets", scope)] = Snippet.objects.create(
            owner=owner, name=f"S {scope}", body=f"<p>{scope}</p>", sharing=scope
        )
    return made


# Who, besides the owner, may use what: teammate is on the owner's team (Blue), outsider on
# Red, the admin on no team.
USES = {
    "owner": {Sharing.PRIVATE, Sharing.TEAM, Sharing.EVERYONE},
    "teammate": {Sharing.TEAM, Sharing.EVERYONE},
    "outsider": {Sharing.EVERYONE},
    "admin_user": {Sharing.EVERYONE},
}


@pytest.mark.parametrize("who", USES)
def test_the_composer_offers_what_is_shared_with_the_user(client, request, library, who):
    user = request.getfixturevalue(who)
    record = ContactFactory(owner=user, emails=[f"c-{who}@acme.example"])
    unreachable_mailbox(user, f"{who}@crm.example")
    response = composer(client, user, record)
    expected = USES[who]
    templates = {t.name for t in response.context["templates"]}
    assert templates == {f"T {scope}" for scope in expected}
    assert {s["name"] for s in response.context["snippets"]} == {f"S {s}" for s in expected}
    for scope in Sharing:
        url = f"/records/contacts/{record.pk}/email/templates/{library['templates', scope].pk}/"
        assert client.get(url).status_code == (200 if scope in expected else 404), scope


@pytest.mark.parametrize("who", USES)
@pytest.mark.parametrize("kind", ["templates", "snippets"])
def test_the_settings_list_shows_what_is_shared_with_the_user(client, request, library, who, kind):
    user = request.getfixturevalue(who)
    client.force_login(user)
    listed = {i.name for i, _editable in client.get(f"/settings/email/{kind}/").context["items"]}
    # Admins also list every shared one (to take down a harmful one), never a private one.
    expected = {Sharing.TEAM, Sharing.EVERYONE} if who == "admin_user" else USES[who]
    assert listed == {f"{kind[0].upper()} {scope}" for scope in expected}


@pytest.mark.parametrize("kind", ["templates", "snippets"])
def test_only_the_owner_or_an_admin_edits_and_deletes(
    client, owner, teammate, outsider, admin_user, library, kind
):
    team = library[kind, Sharing.TEAM]
    private = library[kind, Sharing.PRIVATE]
    edit, delete = f"/settings/email/{kind}/{team.pk}/", f"/settings/email/{kind}/{team.pk}/delete/"
    data = {"name": "Renamed", "subject": "s", "body": "<p>x</p>", "sharing": "team"}

    client.force_login(teammate)  # may use it, not change it
    assert client.get(edit).status_code == 403
    assert client.post(edit, data).status_code == 403
    assert client.post(delete).status_code == 403
    client.force_login(outsider)  # doesn't even see it
    assert client.get(edit).status_code == 404
    assert client.post(delete).status_code == 404
    team.refresh_from_db()
    assert team.name == f"{kind[0].upper()} team"

    client.force_login(admin_user)  # edits and deletes shared ones, never sees private ones
    assert client.get(f"/settings/email/{kind}/{private.pk}/").status_code == 404
    assert client.post(f"/settings/email/{kind}/{private.pk}/delete/").status_code == 404
    assert client.post(edit, data).status_code == 302
    team.refresh_from_db()
    assert (team.name, team.owner_id) == ("Renamed", owner.pk)
    assert client.post(delete).status_code == 302
    assert not type(team).objects.filter(pk=team.pk).exists()

    client.force_login(owner)
    assert client.post(f"/settings/email/{kind}/{private.pk}/", data).status_code == 302
    private.refresh_from_db()
    assert (private.name, private.sharing) == ("Renamed", Sharing.TEAM)


def test_signatures_are_their_owners_alone(client, owner, teammate, admin_user):
    signature = Signature.objects.create(owner=owner, name="Mine", body="<p>o</p>")
    for user in (teammate, admin_user):
        client.force_login(user)
        assert client.get(f"/settings/email/signatures/{signature.pk}/").status_code == 404
        assert client.get("/settings/email/signatures/").context["items"] == []


def test_the_sharing_is_chosen_when_saved(client, owner):
    client.force_login(owner)
    page = client.get("/settings/email/templates/").content.decode()
    assert '<select name="sharing"' in page
    for label in ("Only me", "My team", "Everyone"):
        assert f">{label}</option>" in page
    data = {"name": "Team intro", "subject": "s", "body": "<p>x</p>", "sharing": "team"}
    client.post("/settings/email/templates/", data)
    assert EmailTemplate.objects.get(name="Team intro").sharing == Sharing.TEAM


def test_a_template_not_shared_with_the_sender_is_not_recorded_on_the_email(
    client, owner, outsider, contact
):
    inbox = unreachable_mailbox(owner, "rep@crm.example")
    theirs = EmailTemplate.objects.create(owner=outsider, name="X", body="<p>x</p>")
    mine = EmailTemplate.objects.create(owner=owner, name="Y", body="<p>y</p>")
    client.force_login(owner)
    for template in (theirs, mine):
        client.post(
            f"/records/contacts/{contact.pk}/email/",
            {
                "from_key": f"{inbox.pk}:rep@crm.example",
                "to": "olivia@acme.example",
                "subject": template.name,
                "html": "<p>Hi</p>",
                "send_when": "now",
                "records": [str(contact.pk)],
                "template_id": template.pk,
            },
        )
    sent = dict(Outbound.objects.values_list("message__subject", "template_id"))
    assert sent == {"X": None, "Y": mine.pk}
