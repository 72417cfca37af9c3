"""What the apps above records add to an import (privacy asks for the legal basis to record
for imported contacts), registered from their AppConfig.ready(): records never imports them.

An `ImportOption` is a form shown on the mapping page of the kinds it names (`form(data)`
returns a bound form when `data` is given, an unbound one otherwise, or None when it does not
apply now: privacy's when data-privacy rules are off); its cleaned data, JSON-ready, is kept
in `Import.options[key]`, and `apply(choice, record_ids, actor_id)` runs in each batch's
transaction with the records the batch created or updated. `describe(choice)` is a line for
the import's summary.
"""

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class ImportOption:
    key: str
    kinds: tuple[str, ...]  # record kinds whose imports ask it
    form: Callable  # (data | None) -> form | None
    apply: Callable  # (choice: dict, record_ids: list[int], actor_id: int | None) -> None
    describe: Callable  # (choice: dict) -> str
    template: str = "components/form_fields.html"


_options: dict[str, ImportOption] = {}


def register_import_option(option: ImportOption) -> None:
    _options[option.key] = option


def import_options(kind: str) -> list[ImportOption]:
    return [o for o in _options.values() if kind in o.kinds]


def import_option(key: str) -> ImportOption | None:
    return _options.get(key)
