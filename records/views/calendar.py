"""Settings > Sending calendar (admins): the account's time zone, business hours and holidays.

Three forms on one page, each saved whole or not at all: the hours, a typed holiday, an import
of a country's holidays. A refused one shows its errors beside its fields and keeps what was
typed; the others show as they are.
"""

from zoneinfo import ZoneInfo

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods, require_POST

from ..calendar.countries import country_name, holidays_import
from ..calendar.forms import BusinessCalendarForm, HolidayForm, HolidayImportForm
from ..models import BusinessCalendar, Holiday
from .admin_area import admin_required


def _holidays_url() -> str:
    return reverse("records:settings-calendar") + "#holidays"


@admin_required
@require_http_methods(["GET", "POST"])
def calendar_settings(request):
    action = request.POST.get("action") if request.method == "POST" else None
    calendar = BusinessCalendar.load()
    hours = BusinessCalendarForm(
        request.POST if action == "hours" else None, instance=calendar, prefix="hours"
    )
    holiday = HolidayForm(request.POST if action == "holiday" else None, prefix="holiday")
    importing = HolidayImportForm(
        request.POST if action == "import" else None,
        time_zone=calendar.time_zone,
        prefix="import",
    )
    if action == "hours" and hours.is_valid():
        hours.save()
        messages.success(request, _("Business hours saved."))
        return redirect("records:settings-calendar")
    if action == "holiday" and holiday.is_valid():
        holiday.save()
        messages.success(request, _("Holiday added: %(name)s.") % {"name": holiday.instance.name})
        return redirect(_holidays_url())
    if action == "import" and importing.is_valid():
        country, years = importing.cleaned_data["country"], importing.cleaned_data["years"]
        result = holidays_import(country, years)
        text = ngettext(
            "Imported %(added)s holiday of %(country)s.",
            "Imported %(added)s holidays of %(country)s.",
            result.added,
        ) % {"added": result.added, "country": country_name(country)}
        if result.skipped:
            text += " " + ngettext(
                "%(skipped)s day was a holiday already.",
                "%(skipped)s days were holidays already.",
                result.skipped,
            ) % {"skipped": result.skipped}
        messages.success(request, text)
        return redirect(_holidays_url())
    if action is not None:
        messages.error(request, _("Nothing was saved: correct the fields marked below."))
    return render(
        request,
        "records/settings/calendar.html",
        {
            "hours_form": hours,
            "holiday_form": holiday,
            "import_form": importing,
            **holiday_lists(ZoneInfo(calendar.time_zone)),
        },
    )


def holiday_lists(tz: ZoneInfo) -> dict:
    """The holidays to come (yearly ones first, by month and day; then one-off dates) and the
    one-off ones past, today being a date of the account's zone."""
    today = timezone.now().astimezone(tz).date()
    coming, past = [], []
    for row in Holiday.objects.all():
        row.source = country_name(row.country) if row.country else _("Typed")
        (coming if row.yearly or row.date >= today else past).append(row)
    coming.sort(key=lambda h: (not h.yearly, (h.date.month, h.date.day) if h.yearly else h.date))
    return {"holidays": coming, "past_holidays": sorted(past, key=lambda h: h.date, reverse=True)}


@admin_required
@require_POST
def holiday_delete(request, pk):
    holiday = get_object_or_404(Holiday, pk=pk)
    holiday.delete()
    messages.success(request, _("Holiday deleted: %(name)s.") % {"name": holiday.name})
    return redirect(_holidays_url())
