"""What the sending pool registers at startup (transactional/apps.py): its Celery tasks, its
transport in the outbox and its pages in the admin area's settings."""

from django.utils.translation import gettext_lazy as _

# The settings group of transactional email's pages (others join it: the SMTP API, API keys).
GROUP = _("Transactional email")


def connect() -> None:
    from records import extensions
    from transactional.pool import tasks, transport  # noqa: F401 - tasks registers the jobs

    transport.register()
    for key, label, url_name in (
        ("transactional-addon", _("Add-on"), "transactional:addon"),
        ("transactional-pool", _("Sending pool"), "transactional:pool"),
        ("transactional-queue", _("Queue"), "transactional:queue"),
    ):
        extensions.register_settings_section(
            extensions.SettingsSection(key, label, url_name, group=GROUP)
        )
