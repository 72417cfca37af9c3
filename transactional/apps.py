from django.apps import AppConfig


class TransactionalConfig(AppConfig):
    name = "transactional"
    verbose_name = "Transactional email"

    def ready(self):
        from django.utils.translation import gettext_lazy as _

        from records import extensions
        from transactional.api import tasks  # noqa: F401 - registers the single-send jobs
        from transactional.credentials import report_names
        from transactional.events import setup as events_setup
        from transactional.pool import setup

        # The sending pool: its tasks, its transport in the outbox, its settings sections.
        setup.connect()
        # The email reports name each token or API key.
        report_names.register()
        # Delivery events and webhooks: receivers, tasks, the Webhooks section.
        events_setup.connect()
        # Admins only: Settings > Email > SMTP API and Settings > Integrations > API keys.
        for key, label, url_name, group in (
            ("smtp-api", _("SMTP API"), "transactional:smtp-tokens", _("Email")),
            ("api-keys", _("API keys"), "transactional:api-keys", _("Integrations")),
        ):
            extensions.register_settings_section(
                extensions.SettingsSection(key, label, url_name, group=group)
            )
        # Every user's: transactional emails, written and sent by any seat that may reach out.
        extensions.register_settings_section(
            extensions.SettingsSection(
                "transactional-emails",
                _("Transactional emails"),
                "transactional:emails",
                group=_("Email"),
                admin_only=False,
            )
        )
