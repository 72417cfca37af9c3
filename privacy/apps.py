from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def _builtin_subscription_types(sender, using, apps=None, **kwargs):
    """The built-in subscription types, made again whenever they are missing after `migrate`
    or `flush` (which empties every table, then sends post_migrate: a test's teardown does)."""
    try:
        # The model as the migrations left it, as contenttypes does it.
        model = (apps or sender.apps).get_model("privacy", "SubscriptionType")
    except LookupError:  # migrated back before the app's tables
        return
    from .models import BUILTIN_TYPES, SubscriptionType

    for kind in BUILTIN_TYPES:
        SubscriptionType.builtin(kind, model.objects.db_manager(using))


class PrivacyConfig(AppConfig):
    name = "privacy"
    verbose_name = "Privacy and legal basis"

    def ready(self):
        post_migrate.connect(_builtin_subscription_types, sender=self)
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
        register_settings_section(SettingsSection("privacy", _("Privacy"), "privacy:settings"))
        # Settings > Import asks for the legal basis of imported contacts while rules are on.
        register_import_option(LEGAL_BASIS_OPTION)
        register_settings_section(
            SettingsSection("privacy-audit", _("Privacy audit"), "privacy:audit")
        )
