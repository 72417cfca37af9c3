"""No script on the app's own pages: every page sends a strict Content-Security-Policy and its
HTML has nothing a browser would run but the app's own static scripts.

The walk GETs, as a signed-in admin (a superuser, so Django's admin pages count too), every
URL pattern that takes no argument, plus a representative page of each kind that does: record
pages, the composer (new email and reply), the thread, settings pages, the library of
templates, snippets and signatures, the public preferences page. Any page or htmx partial
with an inline <script>, an on*= attribute, a javascript: URL, an hx-on attribute or a policy
that lets inline script or eval run fails it.
"""

from html.parser import HTMLParser

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RegexPattern, RoutePattern

from mailboxes.composer.drafts import Draft, email_submit
from mailboxes.constants import Sharing
from mailboxes.models import Conversation, EmailTemplate, Signature, Snippet
from privacy.links import preferences_token
from privacy.models import SubscriptionType
from records import timeline
from records.constants import ActivityKind
from records.models import CustomObjectType, Record
from records.services import record_save
from tests.factories import CompanyFactory, DealFactory, TicketFactory
from tests.mailboxes.conversations import header
from tests.mailboxes.inboxes import unreachable_mailbox

pytestmark = pytest.mark.django_db

# Sources that would let injected HTML run script.
UNSAFE_SCRIPT_SOURCES = ("'unsafe-inline'", "'unsafe-eval'", "'unsafe-hashes'", "*", "data:",
                         "http:", "https:", "blob:")  # fmt: skip
URL_ATTRIBUTES = ("href", "src", "action", "formaction", "xlink:href", "data")


def policy(header: str) -> dict[str, list[str]]:
    directives = {}
    for part in header.split(";"):
        name, *values = part.split()
        directives[name.lower()] = values
    return directives


def script_sources(directives: dict[str, list[str]]) -> list[str]:
    """What may run as script: script-src, or default-src when there is none."""
    return directives.get("script-src", directives.get("default-src", []))


def assert_strict_policy(header: str, where: str) -> None:
    directives = policy(header)
    sources = script_sources(directives)
    assert sources, f"{where}: no script-src nor default-src"
    unsafe = [s for s in sources if s in UNSAFE_SCRIPT_SOURCES or s.endswith("://*")]
    assert not unsafe, f"{where}: script-src allows {unsafe}"
    for name in ("script-src-attr", "script-src-elem"):
        assert "'unsafe-inline'" not in directives.get(name, []), f"{where}: {name}"
    assert directives.get("object-src", directives.get("default-src")) == ["'none'"], where
    assert directives.get("base-uri") in (["'none'"], ["'self'"]), where
    assert directives.get("frame-ancestors") in (["'none'"], ["'self'"]), where
    assert directives.get("form-action") in (["'self'"], ["'none'"]), where


class ScriptFinder(HTMLParser):
    """Collects what a browser would run in a page: inline scripts, handlers, js: URLs."""

    def __init__(self, nonce: str | None):
        super().__init__(convert_charrefs=True)
        self.nonce = nonce
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        names = dict(attrs)
        # A JSON data block (Django's json_script) is never run: not script.
        data_block = names.get("type") == "application/json"
        if tag == "script" and not names.get("src") and not data_block:
            if self.nonce is None or names.get("nonce") != self.nonce:
                self.found.append(f"inline <script {attrs}>")
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"<{tag} {name}=...>")
            if name.startswith(("hx-on", "data-hx-on")):
                self.found.append(f"<{tag} {name}=...> (htmx runs it as script)")
            if name in URL_ATTRIBUTES and (value or "").strip().lower().startswith(
                ("javascript:", "vbscript:")
            ):
                self.found.append(f"<{tag} {name}={value!r}>")

    handle_startendtag = handle_starttag


def assert_no_inline_script(response, where: str) -> None:
    header = response.get("Content-Security-Policy", "")
    nonces = [s for s in script_sources(policy(header)) if s.startswith("'nonce-")]
    finder = ScriptFinder(nonces[0][7:-1] if nonces else None)
    finder.feed(response.content.decode("utf-8", "replace"))
    assert not finder.found, f"{where}: {finder.found}"


def argless_paths(patterns=None, prefix: str = ""):
    """The path of every URL pattern that takes no argument (includes followed)."""
    patterns = get_resolver().url_patterns if patterns is None else patterns
    for entry in patterns:
        pattern = entry.pattern
        if isinstance(pattern, RoutePattern):
            if pattern.converters:
                continue
            part = str(pattern)
        elif isinstance(pattern, RegexPattern):
            if pattern.regex.groups:
                continue
            part = str(pattern).removeprefix("^").removesuffix("$").replace("\\", "")
            if any(c in part for c in "()[]?*+|"):
                continue
        else:
            continue
        if isinstance(entry, URLResolver):
            yield from argless_paths(entry.url_patterns, prefix + part)
        elif isinstance(entry, URLPattern):
            yield "/" + prefix + part


@pytest.fixture
def site(admin_user, owner, contact, team_desk, sync_page):
    """An admin with an inbox, and one of everything a page can show."""
    admin_user.is_superuser = True
    admin_user.save()
    inbox = unreachable_mailbox(admin_user, "ada@crm.example")
    sent = email_submit(
        Draft(
            sender=admin_user,
            from_key=f"{inbox.pk}:ada@crm.example",
            to=["olivia@acme.example"],
            subject="Quote",
            html='<p>Hi<img src=x onerror="alert(1)"></p>',
            records=[contact],
            track=False,
        )
    )
    note = timeline.log(ActivityKind.NOTE, [contact], created_by=admin_user, body="<b>plain</b>")
    boats = CustomObjectType.objects.create(name="Boat", plural="Boats", slug="boats")
    boat = record_save(Record(kind="custom", custom_type=boats, name="Sea Breeze", owner=owner))
    hostile = '<p>Hi<img src=x onerror="alert(1)"><script>alert(2)</script></p>'
    template = EmailTemplate.objects.create(
        owner=owner, name="T", body=hostile, sharing=Sharing.EVERYONE
    )
    snippet = Snippet.objects.create(owner=owner, name="S", body=hostile, sharing=Sharing.EVERYONE)
    signature = Signature.objects.create(
        owner=admin_user, name="Sig", body=hostile, is_default=True
    )
    [received] = sync_page(team_desk, header("lea@client.example", subject="<b>Help</b>"))
    conversation = Conversation.objects.get()
    c = contact.pk
    return [
        f"/conversations/{team_desk.pk}/?c={conversation.pk}",
        f"/conversations/{team_desk.pk}/list/?view=open",
        f"/conversations/email/{received.pk}/body/",
        f"/records/contacts/{c}/",
        f"/records/contacts/{c}/edit/",
        f"/records/contacts/{c}/timeline/",
        f"/records/contacts/{c}/email/",
        f"/records/contacts/{c}/email/?reply_to={sent.pk}&mode=reply",
        f"/records/contacts/{c}/email/?reply_to={sent.pk}&mode=forward",
        f"/records/contacts/{c}/email/{sent.pk}/thread/",
        f"/email/{sent.pk}/body/",
        f"/records/contacts/{c}/privacy/",
        f"/records/contacts/{c}/privacy/check/?context=one_to_one&form=composer-form",
        f"/records/contacts/{c}/associations/candidates/?q=a",
        f"/records/contacts/{c}/notes/{note.pk}/edit/",
        f"/records/boats/{boat.pk}/",
        f"/records/boats/{boat.pk}/email/",
        f"/records/companies/{CompanyFactory(owner=owner).pk}/",
        f"/records/deals/{DealFactory(owner=owner).pk}/",
        f"/records/tickets/{TicketFactory(owner=owner).pk}/",
        "/records/contacts/",
        "/records/contacts/new/",
        "/records/companies/",
        "/records/deals/",
        "/records/tickets/",
        "/records/boats/",
        f"/settings/users/{owner.pk}/",
        "/settings/objects/boats/",
        f"/settings/privacy/types/{SubscriptionType.objects.first().pk}/",
        "/settings/email/templates/",
        "/settings/email/snippets/",
        "/settings/email/signatures/",
        f"/settings/email/templates/{template.pk}/",
        f"/settings/email/snippets/{snippet.pk}/",
        f"/settings/email/signatures/{signature.pk}/",
        f"/preferences/{preferences_token(contact)}/",
    ]


def test_every_page_sends_a_strict_csp_and_runs_no_inline_script(
    client, admin_user, site, background_alive
):
    # With beat and the workers alive, /health/ answers 200 like every other page here.
    client.force_login(admin_user)
    paths = sorted(set(argless_paths())) + site
    checked = 0
    for path in paths:
        for htmx in (False, True):
            headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
            response = client.get(path, **headers)
            where = f"GET {path}{' (htmx)' if htmx else ''} -> {response.status_code}"
            assert response.status_code < 500, where
            assert "Content-Security-Policy" in response, where
            assert_strict_policy(response["Content-Security-Policy"], where)
            if response.get("Content-Type", "").startswith("text/html"):
                assert_no_inline_script(response, where)
                checked += response.status_code == 200
    # The walk reached real pages, not a wall of redirects.
    assert checked > 60


def test_the_app_csp_is_the_strict_one_from_settings(client, admin_user):
    client.force_login(admin_user)
    directives = policy(client.get("/records/contacts/")["Content-Security-Policy"])
    assert directives["default-src"] == ["'none'"]
    assert directives["script-src"] == ["'self'"]
    assert directives["style-src"] == ["'self'"]  # no <style> elements, no inline sheets
    assert directives["img-src"] == ["'self'", "data:"]  # nothing loads from other hosts
    assert directives["connect-src"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert "script-src-attr" not in directives and "script-src-elem" not in directives


def test_the_email_body_frame_keeps_its_own_stricter_policy(client, admin_user, site):
    client.force_login(admin_user)
    thread = next(path for path in site if path.endswith("/thread/"))
    body = client.get(thread).content.decode().split('src="/email/')[1].split('"')[0]
    response = client.get(f"/email/{body}")
    directives = policy(response["Content-Security-Policy"])
    assert directives["default-src"] == ["'none'"]
    assert "script-src" not in directives  # so no script at all, not even the app's
    assert directives["frame-ancestors"] == ["'self'"]  # framed by the thread view only
    assert b"onerror" not in response.content and b"<script" not in response.content


def test_notes_are_plain_text_on_the_record_page(client, owner, contact):
    timeline.log(
        ActivityKind.NOTE, [contact], created_by=owner, body='<img src=x onerror="alert(1)">'
    )
    client.force_login(owner)
    page = client.get(f"/records/contacts/{contact.pk}/").content.decode()
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in page
    assert "<img src=x" not in page
