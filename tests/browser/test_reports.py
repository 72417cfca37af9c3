"""The email reports page as a manager uses it: the charts and tables of the hand-computed
data set (tests/mailboxes/report_data.py), then changing the period, the grouping and the
bot toggle, each redrawing the chart and the table; at 1280 and 390 px wide."""

from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.fit import assert_fits_both
from tests.mailboxes import report_data

pytestmark = pytest.mark.browser
SCREENSHOTS = Path("/tmp/report-screens")


def chart_points(page, canvas_id):
    """What Chart.js drew on a canvas: its labels and each dataset's values (once drawn: the
    results swapped in are drawn on htmx's settle, a moment after they show)."""
    page.wait_for_function(
        "id => window.Chart && Chart.getChart(document.getElementById(id))", arg=canvas_id
    )
    return page.evaluate(
        """id => { const c = Chart.getChart(document.getElementById(id));
                   return c ? [c.data.labels, c.data.datasets.map(d => d.data)] : null; }""",
        canvas_id,
    )


def drawn_with(page, canvas_id, label):
    """Wait until the chart on `canvas_id` was drawn again with `label` among its labels."""
    page.wait_for_function(
        """([id, label]) => { const c = Chart.getChart(document.getElementById(id));
                              return c && c.data.labels.includes(label); }""",
        arg=[canvas_id, label],
    )


def total(page, key):
    return page.locator(f".report-totals [data-rate={key}]")


def test_a_manager_changes_period_grouping_and_the_bot_toggle(
    page, login, admin_user, owner, outsider
):
    data = report_data.build(owner, outsider)
    login(page, "admin")
    start = (data.first - timedelta(days=1)).date().isoformat()
    end = data.second.date().isoformat()
    page.goto(f"/reports/email/?start={start}&end={end}&bucket=day")
    expect(page.get_by_role("heading", name="Email reports")).to_be_visible()
    expect(total(page, "open_rate")).to_have_text("37.5%")
    expect(total(page, "bounce_rate")).to_have_text("11.1%")
    expect(page.locator(".report-estimate")).to_contain_text("privacy proxy")
    labels, values = chart_points(page, "report-line")
    assert len(labels) == (data.second.date() - data.first.date()).days + 2
    assert sum(values[0]) == 9  # sent, over the days
    bars = chart_points(page, "report-bars")
    assert sorted(bars[0]) == sorted([owner.display_name, outsider.display_name])
    expect(page.locator("#report-groups tbody tr")).to_have_count(2)
    assert_fits_both(page, SCREENSHOTS / "reports-by-rep")

    # Grouping: by email type.
    page.get_by_label("Group by").select_option("type")
    expect(page.locator("#report-groups tbody tr").first).to_contain_text("One-to-one")
    expect(page.get_by_role("heading", name="By Email type")).to_be_visible()
    drawn_with(page, "report-bars", "One-to-one")
    assert "group=type" in page.url
    assert sorted(chart_points(page, "report-bars")[0]) == [
        "One-to-one",
        "Sequence",
        "Transactional",
    ]

    # The bot toggle: opens by scanners, proxies and pre-fetchers counted too.
    page.get_by_label("Include bots, scanners and privacy proxies").check()
    expect(total(page, "open_rate")).to_have_text("75.0%")
    expect(page.locator(".report-summary")).to_contain_text(
        "People, bots, scanners and privacy proxies"
    )
    one_to_one = page.locator("#report-groups tbody tr").filter(has_text="One-to-one")
    expect(one_to_one.locator("[data-count=opened]")).to_contain_text("5")
    page.get_by_label("Include bots, scanners and privacy proxies").uncheck()
    expect(total(page, "open_rate")).to_have_text("37.5%")

    # The period: only the outsider's day, by week.
    page.get_by_label("From").fill(data.second.date().isoformat())
    expect(total(page, "open_rate")).to_have_text("50.0%")
    page.get_by_label("Every").select_option("week")
    expect(page.locator("#report-series tbody tr").first).to_contain_text("week of")
    labels, values = chart_points(page, "report-line")
    assert labels[0].startswith("week of") and sum(values[0]) == 2
    assert "start=" + data.second.date().isoformat() in page.url
    assert_fits_both(page, SCREENSHOTS / "reports-by-type")

    # The CSV link carries the same choices.
    with page.expect_download() as download:
        page.get_by_role("link", name="Export CSV").click()
    text = Path(download.value.path()).read_text()
    assert "50.0" in text and "By Email type" in text


def test_a_rep_sees_only_their_own_numbers_and_filters(page, login, owner, outsider):
    data = report_data.build(owner, outsider)
    login(page, "owner")
    start = (data.first - timedelta(days=1)).date().isoformat()
    page.goto(f"/reports/email/?start={start}&end={data.second.date().isoformat()}")
    expect(total(page, "open_rate")).to_have_text("33.3%")
    expect(page.locator("select[name=rep] option")).to_have_count(2)  # "Every rep" and theirs
    expect(page.locator("body")).not_to_contain_text("Onboarding")
    expect(page.locator("body")).not_to_contain_text("Shop receipts")
    assert_fits_both(page, SCREENSHOTS / "reports-rep")
