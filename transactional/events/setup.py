"""What delivery events register at startup (transactional/apps.py): the receivers that feed
the status history, the webhook tasks, and Settings > Transactional email > Webhooks."""

from django.utils.translation import gettext_lazy as _


def connect() -> None:
    from records import extensions
    from transactional.events import receivers, tasks  # noqa: F401 - tasks registers the jobs
    from transactional.pool.setup import GROUP

    receivers.connect()
    extensions.register_settings_section(
        extensions.SettingsSection(
            "transactional-webhooks", _("Webhooks"), "transactional:webhooks", group=GROUP
        )
    )
