from django.apps import AppConfig


class MailboxesConfig(AppConfig):
    name = "mailboxes"
    verbose_name = "Connected inboxes"

    def ready(self):
        from records import extensions, timeline
        from records.constants import RecordKind

        from . import activity, bounce_processing

        timeline.register("email", "mailboxes/activities/email.html", activity.prefetch_emails)
        extensions.register_record_action(
            extensions.RecordAction(
                "email", "Email", "mailboxes:compose", lambda user, record: user.can_send_email
            )
        )
        extensions.register_settings_section(
            extensions.SettingsSection("inboxes", "Team inboxes", "mailboxes:team-inboxes")
        )
        extensions.register_settings_section(
            extensions.SettingsSection(
                "connected-inboxes", "Connected inboxes", "mailboxes:all-inboxes"
            )
        )
        extensions.register_record_panel(
            extensions.RecordPanel(
                key="bounces",
                template=bounce_processing.PANEL_TEMPLATE,
                kinds=(RecordKind.CONTACT,),
                context=bounce_processing.panel_context,
            )
        )
