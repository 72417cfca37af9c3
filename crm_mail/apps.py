from django.apps import AppConfig
from django.conf import settings
from django.utils.translation import gettext_lazy as _


class CrmMailConfig(AppConfig):
    name = "crm_mail"
    verbose_name = "CRM Mail"

    def ready(self):
        from records import extensions

        from . import broker

        # The embedded broker's SQLite file is made on first use; its folder must exist.
        if broker.is_embedded():
            settings.BROKER_FILE.parent.mkdir(parents=True, exist_ok=True)
        extensions.register_settings_section(
            extensions.SettingsSection("health", _("System health"), "system-health")
        )
