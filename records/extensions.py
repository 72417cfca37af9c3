"""Places where apps built on records add to its pages without records importing them.

- Record panels: a block in the left column of a record page (privacy adds "Communication
  preferences" to contacts). A panel is a template plus a function that builds its context.
- Record actions: buttons beside Note and Task (mailboxes adds Email) that open a panel.
- List actions: buttons of a list page's bulk bar that send the selected ids (`id`) to an
  app's page (sequences adds "Enroll in sequence" to contacts; records itself "Add to list").
- Settings sections: links in the settings navigation, in groups: the admin area's ("Account",
  admins only) and groups every user has (mailboxes adds "Email": their inboxes, templates);
  a section some seats may not open names who sees it (`visible`: records' "Import").
- Preference sections: parts of each user's own Settings > General page (mailboxes adds the
  email defaults). The page validates every section's form and saves them all in one
  transaction, or none.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

# The group of the admin area's sections.
ACCOUNT = _("Account")


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
class ListAction:
    """A bulk-bar button of a list page: GETs `url_name` with the selected records' `id`s."""

    key: str
    label: str
    url_name: str
    kinds: tuple[str, ...]  # record kinds whose list shows it
    visible: Callable  # (user) -> bool


@dataclass(frozen=True)
class SettingsSection:
    key: str
    label: str
    url_name: str
    url_args: tuple = ()
    group: str = ACCOUNT
    admin_only: bool = True
    visible: Callable | None = None  # (user) -> bool, for a section not every seat may open

    @property
    def href(self) -> str:
        return reverse(self.url_name, args=self.url_args)


@dataclass(frozen=True)
class PreferencesSection:
    """A part of Settings > General. `form(user, data)` returns a bound (data) or unbound
    (None) form with `is_valid()` and `save()`; `template` renders it as `form`."""

    key: str
    label: str
    form: Callable
    template: str = "components/form_fields.html"


_panels: dict[str, RecordPanel] = {}
_actions: dict[str, RecordAction] = {}
_sections: dict[str, SettingsSection] = {}
_list_actions: dict[str, ListAction] = {}
_preferences: dict[str, PreferencesSection] = {}


def register_record_panel(panel: RecordPanel) -> None:
    _panels[panel.key] = panel


def register_record_action(action: RecordAction) -> None:
    _actions[action.key] = action


def actions_for(user, record) -> list[RecordAction]:
    return [a for a in _actions.values() if a.visible(user, record)]


def register_list_action(action: ListAction) -> None:
    _list_actions[action.key] = action


def list_actions_for(user, kind: str) -> list[ListAction]:
    return [a for a in _list_actions.values() if kind in a.kinds and a.visible(user)]


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


def settings_groups(user) -> list[tuple[str, list[SettingsSection]]]:
    """The sections `user` may open, as (group, sections): the user's own groups first, then
    the admin area's, each in the order registered."""
    groups: dict[str, list[SettingsSection]] = {}
    shown = [s for s in _sections.values() if s.visible is None or s.visible(user)]
    mine = [s for s in shown if not s.admin_only]
    account = [s for s in shown if s.admin_only] if user.is_staff else []
    for section in mine + account:
        groups.setdefault(str(section.group), []).append(section)
    return list(groups.items())


def register_preferences_section(section: PreferencesSection) -> None:
    _preferences[section.key] = section


def preferences_sections() -> list[PreferencesSection]:
    return list(_preferences.values())
