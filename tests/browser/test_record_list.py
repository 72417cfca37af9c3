"""The contacts list: search as you type, filters, sorting, pages and multi-select."""

import re

import pytest
from playwright.sync_api import expect

from records.constants import LifecycleStage
from tests.factories import ContactFactory

pytestmark = pytest.mark.browser


@pytest.fixture
def people(owner):
    """Three of the owner's contacts whose name order differs from their address order."""
    ContactFactory(
        first_name="Alice",
        last_name="Anders",
        owner=owner,
        emails=["zed@anders.example"],
        lifecycle_stage=LifecycleStage.CUSTOMER,
    )
    ContactFactory(first_name="Bruno", last_name="Bianchi", owner=owner, emails=["amy@b.example"])
    ContactFactory(
        first_name="Carla", last_name="Diaz", owner=owner, emails=["cd@northwind.example"]
    )


def names(page):
    """The name links of the rows in the results table, in order."""
    return page.locator("#results tbody tr").get_by_role("link")


def search(page, text):
    """Type into the search box key by key, as a person does (htmx waits for a 300 ms pause)."""
    box = page.get_by_role("searchbox", name="Search contacts")
    box.clear()
    box.press_sequentially(text, delay=40)


def test_typing_in_the_search_box_keeps_only_matching_contacts(page, login, people):
    login(page, "owner")
    expect(names(page)).to_have_text(["Alice Anders", "Bruno Bianchi", "Carla Diaz"])
    page.evaluate("window.stillTheSamePage = true")

    search(page, "ali")

    expect(names(page)).to_have_text(["Alice Anders"])
    expect(page).to_have_url(re.compile(r"[?&]q=ali(&|$)"))
    expect(page.locator("#results .count")).to_have_text("1 record")
    # htmx swapped the results in place: the page itself was not reloaded.
    assert page.evaluate("window.stillTheSamePage") is True


def test_searching_by_part_of_an_email_address_finds_the_contact(page, login, people):
    login(page, "owner")

    search(page, "northwind")

    expect(names(page)).to_have_text(["Carla Diaz"])
    expect(page).to_have_url(re.compile(r"[?&]q=northwind(&|$)"))

    search(page, "nobody-has-this")
    expect(page.locator("#results tbody")).to_contain_text("No contacts match.")


def test_lifecycle_stage_filter_narrows_the_list(page, login, people):
    login(page, "owner")

    page.get_by_label("Lifecycle stage").select_option(label="Customer")

    expect(names(page)).to_have_text(["Alice Anders"])
    expect(page).to_have_url(re.compile(r"[?&]lifecycle_stage=customer(&|$)"))


def test_clicking_a_column_header_sorts_and_clicking_again_reverses(page, login, people):
    login(page, "owner")

    page.locator("#results thead").get_by_role("link", name="Email").click()

    expect(names(page)).to_have_text(["Bruno Bianchi", "Carla Diaz", "Alice Anders"])
    expect(page).to_have_url(re.compile(r"[?&]sort=email(&|$)"))

    page.locator("#results thead").get_by_role("link", name="Email ▲").click()

    expect(names(page)).to_have_text(["Alice Anders", "Carla Diaz", "Bruno Bianchi"])
    expect(page).to_have_url(re.compile(r"[?&]sort=-email(&|$)"))


def test_search_keeps_the_sort_order_chosen_before(page, login, people, owner):
    ContactFactory(first_name="Anna", last_name="Zeta", owner=owner, emails=["anna@a.example"])
    login(page, "owner")
    page.locator("#results thead").get_by_role("link", name="Email").click()
    expect(page).to_have_url(re.compile(r"[?&]sort=email(&|$)"))

    search(page, "an")  # Alice Anders, Anna Zeta, Bruno Bianchi

    # By address: amy@b (Bruno), anna@a (Anna), zed@anders (Alice); by name it would differ.
    expect(names(page)).to_have_text(["Bruno Bianchi", "Anna Zeta", "Alice Anders"])
    expect(page).to_have_url(re.compile(r"[?&]sort=email(&|$)"))


def test_next_page_link_shows_the_remaining_contacts(page, login, owner):
    for n in range(30):
        ContactFactory(first_name=f"Person{n:02d}", last_name="Paged", owner=owner)
    login(page, "owner")
    expect(page.locator("#results .count")).to_have_text("30 records")
    expect(names(page)).to_have_count(25)
    expect(page.get_by_text("Page 1 of 2")).to_be_visible()

    page.get_by_role("link", name="Next ›").click()

    expect(page.get_by_text("Page 2 of 2")).to_be_visible()
    expect(names(page)).to_have_text([f"Person{n:02d} Paged" for n in range(25, 30)])
    expect(page).to_have_url(re.compile(r"[?&]page=2(&|$)"))
    expect(page.get_by_role("link", name="‹ Prev")).to_be_visible()


def test_ticking_rows_counts_the_selection_and_enables_export(page, login, people):
    login(page, "owner")
    export_selected = page.get_by_role("button", name="Export selected")
    selected = page.locator("[data-selected-count]")
    expect(export_selected).to_be_disabled()
    expect(selected).to_be_hidden()

    page.get_by_role("checkbox", name="Select Alice Anders").check()
    page.get_by_role("checkbox", name="Select Carla Diaz").check()

    expect(selected).to_have_text("2 selected")
    expect(export_selected).to_be_enabled()
    with page.expect_download() as download:
        export_selected.click()
    csv_text = open(download.value.path(), encoding="utf-8").read()
    assert "Alice Anders" in csv_text and "Carla Diaz" in csv_text
    assert "Bruno Bianchi" not in csv_text


def test_header_checkbox_selects_every_row_on_the_page(page, login, people):
    login(page, "owner")

    page.get_by_role("checkbox", name="Select all on this page").check()

    rows = page.locator('#results tbody input[name="id"]')
    expect(rows).to_have_count(3)
    for n in range(3):
        expect(rows.nth(n)).to_be_checked()
    expect(page.locator("[data-selected-count]")).to_have_text("3 selected")

    page.get_by_role("checkbox", name="Select Bruno Bianchi").uncheck()
    expect(page.locator("[data-selected-count]")).to_have_text("2 selected")
    expect(page.get_by_role("checkbox", name="Select all on this page")).not_to_be_checked()
