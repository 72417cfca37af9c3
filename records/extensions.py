"""Places where apps built on records add to its pages without records importing them.

- Record panels: a block in the left column of a record page (privacy adds "Communication
  preferences" to contacts). A panel is a template plus a function that builds its context.
- Settings sections: links in the admin area's navigation.
"""

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class RecordPanel:
    key: str
    template: str
    kinds: tuple[str, ...]  # record kinds that show it
    context: Callable  # (request, record) -> dict; may raise Http404 / PermissionDenied


@dataclass(frozen=True)
class SettingsSection:
    key: str
    label: str
    url_name: str


_panels: dict[str, RecordPanel] = {}
_sections: dict[str, SettingsSection] = {}


def register_record_panel(panel: RecordPanel) -> None:
    _panels[panel.key] = panel


def register_settings_section(section: SettingsSection) -> None:
    _sections[section.key] = section


def panels_for(request, record) -> list[dict]:
    """Rendered-context entries for each panel that applies to this record's kind."""
    return [
        {"key": p.key, "template": p.template, **p.context(request, record)}
        for p in _panels.values()
        if record.kind in p.kinds
    ]


def settings_sections() -> list[SettingsSection]:
    return list(_sections.values())
