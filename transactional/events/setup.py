"""What delivery events register at startup (transactional/apps.py): the receivers that feed
the status history, the webhook tasks, what a token's details count as a spam complaint, and
Settings > Transactional email > Webhooks."""

from django.utils.translation import gettext_lazy as _


def connect() -> None:
    from records import extensions
    from transactional.credentials import stats
    from transactional.events import receivers, tasks  # noqa: F401 - tasks registers the jobs
    from transactional.events.models import complained
    from transactional.pool.setup import GROUP

    receivers.connect()
    stats.count_complaints_as(complained())
    extensions.register_settings_section(
        extensions.SettingsSection(
            "transactional-webhooks", _("Webhooks"), "transactional:webhooks", group=GROUP
        )
    )
