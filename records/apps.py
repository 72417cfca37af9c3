from django.apps import AppConfig


class RecordsConfig(AppConfig):
    name = "records"
    verbose_name = "CRM records"

    def ready(self):
        from . import extensions, timeline

        timeline.register_builtin_kinds()
        for key, label, url_name in (
            ("users", "Users", "records:settings-users"),
            ("teams", "Teams", "records:settings-teams"),
            ("objects", "Custom objects", "records:settings-objects"),
            ("currency", "Currency", "records:settings-currency"),
        ):
            extensions.register_settings_section(extensions.SettingsSection(key, label, url_name))
