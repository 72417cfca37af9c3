from django.apps import AppConfig


class MailboxesConfig(AppConfig):
    name = "mailboxes"
    verbose_name = "Connected inboxes"

    def ready(self):
        from records import extensions, timeline

        from . import activity

        timeline.register("email", "mailboxes/activities/email.html", activity.prefetch_emails)
        extensions.register_settings_section(
            extensions.SettingsSection("inboxes", "Team inboxes", "mailboxes:team-inboxes")
        )
