"""Drive Debian's Chromium through Playwright against pytest-django's live server.

One Chromium for the browser tests, a fresh browser context (cookies, storage) per test. Tests reach
the app only through what a person does: the login form, clicks, typing. A failing test leaves
a screenshot under /tmp/browser-failures/.

Every page is watched for what its Content-Security-Policy refused: a test during which the
browser refused a script, a style sheet, a frame or a request of the app's own fails, since a
page that needs what its policy forbids is broken (images from other hosts are refused on
purpose). A test that provokes refusals on purpose is marked `csp_refusals_expected`.
"""

import os
import re
from pathlib import Path

import pytest

from tests.browser.image_server import ImageServer
from tests.servers import server_missing

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
SCREENSHOTS = Path("/tmp/browser-failures")
ASYNC_UNSAFE = "DJANGO_ALLOW_ASYNC_UNSAFE"
WAIT_MS = 10_000  # the longest a browser test waits for anything (see `browser`)
# How Chromium's console words a CSP refusal.
CSP_REFUSAL = "violates the following Content Security Policy directive"


@pytest.fixture(scope="package")
def browser():
    """One headless Chromium for the browser tests, stopped after the last of them.

    While Playwright's sync API is started, its asyncio loop counts as running in this thread:
    Django's async-safety check would refuse every ORM call a test makes, and `asyncio.run()` in
    any later test of the suite would fail. So the check is relaxed only meanwhile (the test owns
    the thread; nothing else runs in it), and the package scope stops Playwright before the rest
    of the suite runs.
    """
    if not os.path.exists(CHROMIUM):
        server_missing("Chromium (Debian package chromium)")
    from playwright.sync_api import expect, sync_playwright

    # Waits longer than this mean something is wrong, not slow: fail fast and keep the suite
    # quick. Not shorter: on a shared machine whose CPU the host takes back (a fifth of it
    # here at times), a page under the whole suite's load has taken over 5 s.
    expect.set_options(timeout=WAIT_MS)
    previous = os.environ.get(ASYNC_UNSAFE)
    os.environ[ASYNC_UNSAFE] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
            )
            yield chromium
            chromium.close()
    finally:
        if previous is None:
            os.environ.pop(ASYNC_UNSAFE, None)
        else:
            os.environ[ASYNC_UNSAFE] = previous


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    # Keep each phase's outcome on the item so the page fixture knows whether to take a picture.
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def new_page(browser, live_server, request):
    """Return a function opening a page in a fresh context; options go to `new_context`."""
    contexts = []

    refused = []

    def watch(message):
        text = message.text
        if CSP_REFUSAL in text and '"img-src' not in text:
            refused.append(f"{message.page.url if message.page else ''}: {text}")

    def open_page(**options):
        options.setdefault("viewport", DESKTOP)
        context = browser.new_context(base_url=live_server.url, **options)
        context.set_default_timeout(WAIT_MS)
        context.on("console", watch)
        contexts.append(context)
        return context.new_page()

    yield open_page
    report = getattr(request.node, "report_call", None)
    if (
        refused
        and report is not None
        and report.passed
        and request.node.get_closest_marker("csp_refusals_expected") is None
    ):
        pytest.fail("The page's CSP refused what it needs:\n" + "\n".join(refused))
    if report is not None and report.failed:
        SCREENSHOTS.mkdir(exist_ok=True)
        name = re.sub(r"[^\w.-]+", "_", request.node.nodeid)
        for n, context in enumerate(contexts):
            for m, page in enumerate(context.pages):
                page.screenshot(path=SCREENSHOTS / f"{name}-{n}{m}.png", full_page=True)
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page):
    """A desktop-sized page in its own browser context."""
    return new_page()


def log_in(page, username, password="pw"):
    """Sign in through the real login form and wait until the app has let the user in."""
    from playwright.sync_api import expect

    page.goto("/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page).not_to_have_url(re.compile(r"/login/"))


def settings_menu(page):
    """The settings pages' list of sections, as a person reaches it: on a phone it is folded
    behind the button naming the page, which this taps first."""
    button = page.locator(".settings-menu-label")
    if button.is_visible() and not page.locator("#settings-menu-toggle").is_checked():
        button.click()
    return page.get_by_role("navigation", name="Settings")


def open_settings(page, name, *, group=None, exact=False):
    """Settings from the top bar (behind its ☰ button on a phone), then the section `name`
    (in `group`) from the settings list."""
    main = page.get_by_role("navigation", name="Main")
    if not main.is_visible():
        page.locator(".nav-toggle-label").tap()
    main.get_by_role("link", name="Settings").click()
    nav = settings_menu(page)
    if group:
        nav = nav.get_by_role("group", name=group)
    nav.get_by_role("link", name=name, exact=exact).click()


@pytest.fixture
def login():
    """`login(page, username, password="pw")`: factory users all have the password "pw"."""
    return log_in


@pytest.fixture
def images():
    """A host serving remote images (`ImageServer`), started and stopped per test."""
    server = ImageServer()
    yield server
    server.stop()
