from django.apps import AppConfig


class PrivacyConfig(AppConfig):
    name = "privacy"
    verbose_name = "Privacy and legal basis"

    def ready(self):
        from records.constants import RecordKind
        from records.extensions import (
            RecordPanel,
            SettingsSection,
            register_record_panel,
            register_settings_section,
        )
        from records.imports.extensions import register_import_option

        from .imports import LEGAL_BASIS_OPTION
        from .views.panel import PANEL_TEMPLATE, panel_context

        register_record_panel(
            RecordPanel(
                key="privacy",
                template=PANEL_TEMPLATE,
                kinds=(RecordKind.CONTACT,),
                context=panel_context,
            )
        )
        register_settings_section(SettingsSection("privacy", "Privacy", "privacy:settings"))
        # Settings > Import asks for the legal basis of imported contacts while rules are on.
        register_import_option(LEGAL_BASIS_OPTION)
        register_settings_section(
            SettingsSection("privacy-audit", "Privacy audit", "privacy:audit")
        )
