from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RecordsConfig(AppConfig):
    name = "records"
    verbose_name = _("CRM records")

    def ready(self):
        from . import extensions, timeline
        from .calendar.forms import working_hours_form
        from .constants import RecordKind

        timeline.register_builtin_kinds()
        # Every user's own page comes first in Settings.
        extensions.register_settings_section(
            extensions.SettingsSection(
                "general", _("General"), "records:settings-general", (), _("You"), admin_only=False
            )
        )
        # Every seat that may change records imports them (reps those they will own).
        extensions.register_settings_section(
            extensions.SettingsSection(
                "import",
                _("Import"),
                "records:imports",
                (),
                _("Data"),
                admin_only=False,
                visible=lambda user: user.can_edit_records,
            )
        )
        for key, label, url_name in (
            ("users", _("Users"), "records:settings-users"),
            ("teams", _("Teams"), "records:settings-teams"),
            ("objects", _("Custom objects"), "records:settings-objects"),
            ("currency", _("Currency"), "records:settings-currency"),
            ("calendar", _("Sending calendar"), "records:settings-calendar"),
        ):
            extensions.register_settings_section(extensions.SettingsSection(key, label, url_name))
        # "Add to list" on the contacts index, for the selected contacts.
        extensions.register_list_action(
            extensions.ListAction(
                "contact-list",
                _("Add to list"),
                "records:contact-list-add",
                (RecordKind.CONTACT,),
                lambda user: user.can_edit_records,
            )
        )
        # Each user's working hours, on their own Settings > General.
        extensions.register_preferences_section(
            extensions.PreferencesSection(
                "working-hours",
                _("Working hours"),
                working_hours_form,
                "records/settings/_working_hours.html",
            )
        )
