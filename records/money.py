"""Money as people read it: deal amounts in the account's currency and number format.

The account chooses a currency (ISO 4217) and a locale whose way of writing numbers it
prefers (Settings > Currency, `AccountSettings`); Babel's CLDR data knows both, so 12500 reads
"€12,500.00" in en_US, "12.500,00 €" in de_DE and "¥12,500" for yen. Pages show amounts
through `Money`; CSV exports keep the raw number, with the currency code in the column's
header, so spreadsheets can add them up.
"""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cache

from babel import Locale
from babel.core import get_global
from babel.localedata import locale_identifiers
from babel.numbers import format_currency, get_currency_name

from .models import AccountSettings

# What 12500 looks like in each choice of number format.
SAMPLE = Decimal("12500")


@dataclass(frozen=True)
class Money:
    """Formats amounts in one currency and number format; load once per request."""

    currency: str
    locale: str

    @classmethod
    def for_account(cls) -> "Money":
        row = AccountSettings.load()
        return cls(row.currency, row.number_locale)

    def format(self, amount) -> str:
        if amount is None or amount == "":
            return ""
        return format_currency(Decimal(amount), self.currency, locale=self.locale)


@cache
def currency_choices() -> tuple[tuple[str, str], ...]:
    """Every currency some country uses today, as ("EUR", "EUR · Euro"), by code."""
    today = date.today()
    codes = {
        code
        for history in get_global("territory_currencies").values()
        for code, _start, end, tender in history
        if tender and (end is None or date(*end) >= today)
    }
    return tuple(
        (code, f"{code} · {get_currency_name(code, locale='en')}") for code in sorted(codes)
    )


@cache
def number_locale_choices() -> tuple[tuple[str, str], ...]:
    """Locales of a language in a country ("de_DE"), named in English with a sample amount."""
    choices = []
    for identifier in locale_identifiers():
        parts = identifier.split("_")
        if len(parts) != 2 or not parts[1].isalpha() or not parts[1].isupper():
            continue  # a bare language, a script variant or a region number
        locale = Locale.parse(identifier)
        sample = format_currency(SAMPLE, "EUR", locale=locale)
        choices.append((identifier, f"{locale.get_display_name('en')} · {sample}"))
    return tuple(sorted(choices, key=lambda choice: choice[1].casefold()))
