"""The email reports page and its CSV (RPT-1..3): both from `query.build`, so the CSV holds
exactly the rows the page shows, under the same access rules."""

import csv
import json

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from mailboxes.reports import helpdesk, query
from mailboxes.reports.filters import BUCKETS, GROUPS, Filters

TEMPLATE = "mailboxes/reports/email.html"


def _labels():
    return query.COUNT_LABELS, query.RATE_LABELS


def _chart(report: query.Report, counts: dict, rates: dict) -> dict:
    """What static/js/reports.js draws: a line over time, bars per group."""
    return {
        "line": {
            "labels": [r.label for r in report.series],
            "datasets": [
                {"label": str(counts[k]), "data": [r.counts[k] for r in report.series]}
                for k in ("sent", "opened", "clicked", "replied", "bounced")
            ],
        },
        "bars": {
            "labels": [r.label for r in report.groups],
            "datasets": [
                {"label": str(rates[k]), "data": [r.rates[k] for r in report.groups]}
                for k in ("open_rate", "click_rate", "reply_rate")
            ],
        },
    }


def _menus(report: query.Report) -> list[dict]:
    """The filter menus: only values the user is offered, the chosen one selected."""
    every = {
        "rep": (_("Rep"), _("Every rep")),
        "team": (_("Team"), _("Every team")),
        "type": (_("Email type"), _("Every email type")),
        "sequence": (_("Sequence"), _("Every sequence")),
        "step": (_("Sequence step"), _("Every sequence step")),
        "template": (_("Template"), _("Every template")),
        "token": (_("SMTP token or API key"), _("Every token or API key")),
    }
    menus = []
    for name, values in report.offered.items():
        if not values:
            continue
        chosen = report.filters.chosen.get(name)
        menus.append(
            {
                "name": name,
                "label": every[name][0],
                "every": every[name][1],
                "options": [(k, v, str(k) == chosen) for k, v in values.items()],
            }
        )
    return menus


@login_required
@require_GET
def email_report(request):
    filters = Filters.from_query(request.GET)
    report = query.build(request.user, filters)
    counts, rates = _labels()
    context = {
        "report": report,
        "filters": report.filters,
        "offered": report.offered,
        "buckets": BUCKETS,
        "groups": GROUPS,
        "count_names": list(counts.values()),
        "rate_names": list(rates.values()),
        "chart_json": json.dumps(_chart(report, counts, rates)),
        "helpdesk": helpdesk.response_times(request.user, report.filters),
        "menus": _menus(report),
        "total_rates": [(k, rates[k], v) for k, v in report.total.rates.items()],
        "group_label": GROUPS[report.filters.group],
    }
    template = TEMPLATE
    if request.htmx and request.htmx.target == "report-results":
        template += "#results"
    return render(request, template, context)


@login_required
@require_GET
def email_report_csv(request):
    report = query.build(request.user, Filters.from_query(request.GET))
    f = report.filters
    counts, rates = _labels()
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    name = f"email-report-{f.start}-{f.end}-{f.group}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    writer = csv.writer(response)
    people = _("people only") if f.people_only else _("people, bots and proxies")
    writer.writerow([_("Email report"), f.start, f.end, people])
    for error in f.errors:
        writer.writerow([error])
    header = [_("Table"), _("Row")] + list(counts.values()) + list(rates.values())
    writer.writerow(header)
    by_group = _("By %(group)s") % {"group": GROUPS[f.group]}
    for table, rows in (
        (_("Over time"), report.series),
        (by_group, report.groups),
        (_("Total"), [report.total]),
    ):
        for row in rows:
            writer.writerow(
                [table, row.label]
                + [row.counts[k] for k in counts]
                + ["" if row.rates[k] is None else f"{row.rates[k]:.1f}" for k in rates]
            )
    return response
