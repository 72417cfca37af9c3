"""National holidays, imported from the `holidays` library rather than typed by hand.

The library (maintained, with the rules of each country's calendar: Easter, "first Monday of
May", days moved by law) gives a country's public holidays for a year; an admin imports them
as one-off dates, named as the library names them. Only national holidays: a region's own
(Bavaria, Catalonia, a US state) can be typed. To offer another country, add its ISO code
(one the library supports: `holidays.list_supported_countries()`) to `COUNTRIES`.
"""

from dataclasses import dataclass
from datetime import date

import holidays
from django.db import transaction
from django.utils.translation import get_language, to_locale
from django.utils.translation import gettext_lazy as _

from ..models import Holiday

COUNTRIES = {
    "DE": _("Germany"),
    "ES": _("Spain"),
    "FR": _("France"),
    "IT": _("Italy"),
    "GB": _("United Kingdom"),
    "US": _("United States"),
}


def country_name(code: str) -> str:
    return str(COUNTRIES.get(code, code))


def national_holidays(country: str, year: int) -> list[tuple[date, str]]:
    """`country`'s public holidays in `year`, by date, named in the user's language when the
    library has it, else in English, else in the country's own."""
    calendar = holidays.country_holidays(country, years=year)
    languages = calendar.supported_languages
    wanted = to_locale(get_language() or "en-us")
    for language in (wanted, wanted.split("_")[0], "en_US", "en_GB"):
        if language in languages:
            calendar = holidays.country_holidays(country, years=year, language=language)
            break
    return sorted(calendar.items())


@dataclass(frozen=True)
class Imported:
    added: int
    skipped: int  # dates that were holidays already


def holidays_import(country: str, years: list[int]) -> Imported:
    """Add `country`'s holidays of `years` as one-off dates, skipping those already holidays
    (one-off, or yearly on that month and day). All or nothing."""
    found = [day for year in sorted(years) for day in national_holidays(country, year)]
    with transaction.atomic():
        dates = Holiday.objects.values_list("date", flat=True)
        taken = set(dates.filter(date__in=[d for d, _name in found]))
        every_year = {(d.month, d.day) for d in dates.filter(yearly=True)}
        new = [
            Holiday(date=d, name=name, country=country)
            for d, name in found
            if d not in taken and (d.month, d.day) not in every_year
        ]
        # A row another admin imported meanwhile is skipped, not a failure.
        Holiday.objects.bulk_create(new, ignore_conflicts=True)
    return Imported(added=len(new), skipped=len(found) - len(new))
