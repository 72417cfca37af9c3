"""Whether a page fits its screen: nothing scrolls sideways, the page or any table in it."""

from pathlib import Path

from tests.browser.conftest import DESKTOP, PHONE

# Every table wider than the box it sits in (a .table-wrap scrolls then), by its first header.
OVERFLOWING_TABLES = """() => Array.from(document.querySelectorAll("table"))
  .filter(t => t.offsetParent !== null)
  .filter(t => t.getBoundingClientRect().width > t.parentElement.clientWidth + 1
               || t.parentElement.scrollWidth > t.parentElement.clientWidth + 1)
  .map(t => (t.querySelector("th, td") || t).textContent.trim().slice(0, 40)
            + ": " + Math.round(t.getBoundingClientRect().width) + " in "
            + t.parentElement.clientWidth)"""
SIZES = {"desktop": DESKTOP, "phone": PHONE}


def open_at(new_page, size: str):
    """A page of the size named: "desktop" (1280 px) or "phone" (390 px, a phone's browser)."""
    if size == "phone":
        return new_page(viewport=PHONE, is_mobile=True, has_touch=True)
    return new_page(viewport=DESKTOP)


def assert_fits(page, screenshot: Path | None = None) -> None:
    """The page is no wider than the screen and no table is wider than its frame.

    On a phone (is_mobile honours <meta name=viewport>) a page wider than the screen is zoomed
    out, so innerWidth grows with the overflow: both are checked against the screen's width.
    """
    if screenshot is not None:
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=screenshot, full_page=True)
    width = page.viewport_size["width"]
    scroll_width, inner_width = page.evaluate(
        "[document.documentElement.scrollWidth, window.innerWidth]"
    )
    assert (scroll_width, inner_width) == (width, width), (
        f"{page.url} is {scroll_width}px wide on a {width}px screen"
    )
    assert page.evaluate(OVERFLOWING_TABLES) == [], f"{page.url}: a table scrolls sideways"


def assert_fits_both(page, stem: Path) -> None:
    """`assert_fits` at 1280 and 390 px wide, with screenshots `<stem>-desktop.png` and
    `<stem>-phone.png`; the page is left at 1280 px."""
    for size, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(viewport)
        assert_fits(page, stem.with_name(f"{stem.name}-{size}.png"))
    page.set_viewport_size(DESKTOP)
