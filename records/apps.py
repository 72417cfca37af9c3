from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RecordsConfig(AppConfig):
    name = "records"
    verbose_name = "CRM records"

    def ready(self):
        from . import extensions, timeline

        timeline.register_builtin_kinds()
        # Every user's own page comes first in Settings.
        extensions.register_settings_section(
            extensions.SettingsSection(
                "general", _("General"), "records:settings-general", (), _("You"), admin_only=False
            )
        )
        for key, label, url_name in (
            ("users", "Users", "records:settings-users"),
            ("teams", "Teams", "records:settings-teams"),
            ("objects", "Custom objects", "records:settings-objects"),
            ("currency", "Currency", "records:settings-currency"),
        ):
            extensions.register_settings_section(extensions.SettingsSection(key, label, url_name))
