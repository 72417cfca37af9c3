"""List pages for every record type: search, filters, sort, pagination, multi-select, CSV."""

import csv
from datetime import datetime

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.functional import SimpleLazyObject, cached_property
from django.utils.timezone import localtime
from django.views.decorators.http import require_GET

from .. import extensions
from ..models import User
from ..money import Money
from ..selectors import records_list
from ..types import Column, RecordType, get_record_type


def list_params(request, record_type: RecordType) -> dict:
    return {
        "query": request.GET.get("q", "").strip()[:200],
        "filters": {f.key: request.GET.get(f.key, "") for f in record_type.filters},
        "owner": request.GET.get("owner", ""),
        "sort": request.GET.get("sort", ""),
    }


def cell_value(record, key: str):
    """The value of a column as stored (CSV exports write it as it is)."""
    if key.startswith("prop:"):
        return record.properties.get(key[5:], "")
    if key == "owner":
        return record.owner.display_name if record.owner else ""
    display = getattr(record, f"get_{key}_display", None)
    return display() if display else getattr(record, key)


def cell_display(record, column: Column, money: Money):
    """The value of a column as a page shows it: amounts in the account's currency, times
    (created, last updated) as their day in the user's time zone, so a row stays one line."""
    value = cell_value(record, column.key)
    if column.money:
        return money.format(value)
    if isinstance(value, datetime):
        return date_format(localtime(value), "DATE_FORMAT")
    return value


class CappedPaginator(Paginator):
    """Count at most CAP matches: counting every match of a broad search costs more than the
    page itself, and nobody pages past a thousand records."""

    CAP = 1000

    @cached_property
    def count(self) -> int:
        counted = self.object_list.order_by()[: self.CAP + 1].count()
        self.capped = counted > self.CAP
        return min(counted, self.CAP)

    capped = False


@login_required
@require_GET
def record_list(request, type_slug):
    record_type = get_record_type(type_slug)
    params = list_params(request, record_type)
    qs = records_list(request.user, record_type, **params)
    context = {
        **results_context(request, record_type, qs, params),
        "owners": User.objects.filter(is_active=True).order_by("username"),
    }
    template = "records/list.html"
    if request.htmx and request.htmx.target == "results":
        template += "#results"
    return render(request, template, context)


def results_context(request, record_type: RecordType, qs, params: dict) -> dict:
    """What records/_results.html shows: one page of `qs` in the type's columns, with the
    bulk bar's actions (a list page's own come as `page_actions`: (label, url))."""
    page = CappedPaginator(qs, settings.RECORDS_PAGE_SIZE).get_page(request.GET.get("page"))
    money = SimpleLazyObject(Money.for_account)  # read only for an amount
    rows = [
        (r, [(c, cell_display(r, c, money)) for c in record_type.columns]) for r in page.object_list
    ]
    return {
        "record_type": record_type,
        "page": page,
        "rows": rows,
        "params": params,
        "sort": params["sort"],
        "list_actions": extensions.list_actions_for(request.user, record_type.kind),
    }


class _Echo:
    def write(self, value):
        return value


@login_required
@require_GET
def record_export(request, type_slug):
    """Export the visible records of a type as CSV: all that match, or the selected ids."""
    record_type = get_record_type(type_slug)
    params = list_params(request, record_type)
    ids = [int(i) for i in request.GET.getlist("id") if i.isdigit()] or None
    qs = records_list(request.user, record_type, ids=ids, **params)
    saved_list = request.GET.get("list", "")
    if saved_list.isdigit():  # a saved list's page: its members only
        qs = qs.filter(list_memberships__contact_list_id=int(saved_list))
    writer = csv.writer(_Echo())
    # Amounts stay plain numbers a spreadsheet can add up; the header says their currency.
    currency = Money.for_account().currency
    header = ["id"] + [
        f"{c.label} ({currency})" if c.money else str(c.label) for c in record_type.columns
    ]

    # Rows are written as the response streams out, after the middleware has put the
    # viewer's time zone away: dates keep it all the same.
    zone = timezone.get_current_timezone()

    def rows():
        with timezone.override(zone):
            yield writer.writerow(header)
            for record in qs.iterator(chunk_size=2000):
                yield writer.writerow(
                    [record.pk] + [cell_value(record, c.key) for c in record_type.columns]
                )

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{record_type.slug}.csv"'
    return response


@login_required
def home(request):
    return redirect("records:list", type_slug="contacts")
