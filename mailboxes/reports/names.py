"""How the reports name what an email's source id points at: a sequence step (and its
sequence), an SMTP token or API key. The apps above register a `SourceNames` per source from
their `AppConfig.ready()`, as they do for records.timeline; mailboxes never imports them.
A source nobody registered is shown by its id."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.utils.translation import gettext as _


@dataclass(frozen=True)
class SourceNames:
    source: str  # SendSource
    # Source ids -> their names (a step: "Onboarding, step 2"; a token: its name).
    names: Callable[[Iterable[int]], dict[int, str]]
    # Source ids -> (parent id, parent name): a step's sequence. None: no parent.
    parents: Callable[[Iterable[int]], dict[int, tuple[int, str]]] | None = None


_REGISTRY: dict[str, SourceNames] = {}


def register_source(entry: SourceNames) -> None:
    _REGISTRY[entry.source] = entry


def names(source: str, ids: Iterable[int]) -> dict[int, str]:
    ids = [i for i in set(ids) if i]
    entry = _REGISTRY.get(source)
    found = entry.names(ids) if entry and ids else {}
    return {i: found.get(i) or _("#%(id)s (deleted)") % {"id": i} for i in ids}


def parents(source: str, ids: Iterable[int]) -> dict[int, tuple[int, str]]:
    """Each source id's parent (id, name); an unknown one is its own parent."""
    ids = [i for i in set(ids) if i]
    entry = _REGISTRY.get(source)
    found = entry.parents(ids) if entry and entry.parents and ids else {}
    fallback = names(source, [i for i in ids if i not in found])
    return {i: found.get(i) or (-i, fallback[i]) for i in ids}
