"""Places where apps built on records add to its pages without records importing them.

- Record panels: a block in the left column of a record page (privacy adds "Communication
  preferences" to contacts). A panel is a template plus a function that builds its context.
- Record actions: buttons beside Note and Task (mailboxes adds Email) that open a panel.
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
class RecordAction:
    """A button among a record page's actions that loads a panel into #record-drawer."""

    key: str
    label: str
    url_name: str  # reversed with (type_slug, pk)
    visible: Callable  # (user, record) -> bool


@dataclass(frozen=True)
class SettingsSection:
    key: str
    label: str
    url_name: str


_panels: dict[str, RecordPanel] = {}
_actions: dict[str, RecordAction] = {}
_sections: dict[str, SettingsSection] = {}


def register_record_panel(panel: RecordPanel) -> None:
    _panels[panel.key] = panel


def register_record_action(action: RecordAction) -> None:
    _actions[action.key] = action


def actions_for(user, record) -> list[RecordAction]:
    return [a for a in _actions.values() if a.visible(user, record)]


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
