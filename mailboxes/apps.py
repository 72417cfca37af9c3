from django.apps import AppConfig


class MailboxesConfig(AppConfig):
    name = "mailboxes"
    verbose_name = "Connected inboxes"

    def ready(self):
        # Registers the Celery tasks in every process (web included), so mailboxes.jobs can
        # queue them by name.
        from django.core import checks
        from django.utils.translation import gettext_lazy as _

        from mailboxes import tasks  # noqa: F401
        from mailboxes.bounces import panel
        from mailboxes.connecting.connections import check_server_allowlist
        from mailboxes.constants import EMAIL_ACTIVITY
        from mailboxes.conversations import receivers as conversations
        from mailboxes.preferences.forms import section_form
        from mailboxes.reports import receivers as reports
        from mailboxes.timeline import activity
        from mailboxes.tracking import revocation  # noqa: F401 - connects its receiver
        from records import extensions, timeline
        from records.constants import RecordKind

        checks.register(check_server_allowlist)
        conversations.connect()
        reports.connect()
        timeline.register_kind(
            EMAIL_ACTIVITY, _("Email"), "mailboxes/timeline/email.html", activity.prefetch_emails
        )
        extensions.register_record_action(
            extensions.RecordAction(
                "email", "Email", "mailboxes:compose", lambda user, record: user.can_reach_out
            )
        )
        # Every user's: Settings > Email.
        email = _("Email")
        for key, label, url_name, args in (
            ("email-inboxes", _("Connected inboxes"), "mailboxes:settings", ()),
            ("email-templates", _("Templates"), "mailboxes:content", ("templates",)),
            ("email-snippets", _("Snippets"), "mailboxes:content", ("snippets",)),
            ("email-signatures", _("Signatures"), "mailboxes:content", ("signatures",)),
        ):
            extensions.register_settings_section(
                extensions.SettingsSection(key, label, url_name, args, email, admin_only=False)
            )
        # The account's logging rules: in the Email group, for admins only.
        extensions.register_settings_section(
            extensions.SettingsSection(
                "email-logging", _("Logging"), "mailboxes:logging-rules", (), email
            )
        )
        # Every user's own part of Settings > General: their email defaults.
        extensions.register_preferences_section(
            extensions.PreferencesSection(
                "email", email, section_form, "mailboxes/preferences/section.html"
            )
        )
        # Admins only, under Email.
        extensions.register_settings_section(
            extensions.SettingsSection(
                "email-sending", _("Sending"), "mailboxes:sending-settings", group=email
            )
        )
        # The admin area's.
        extensions.register_settings_section(
            extensions.SettingsSection("inboxes", _("Team inboxes"), "mailboxes:team-inboxes")
        )
        extensions.register_settings_section(
            extensions.SettingsSection(
                "connected-inboxes", _("All inboxes"), "mailboxes:all-inboxes"
            )
        )
        extensions.register_record_panel(
            extensions.RecordPanel(
                key="bounces",
                template=panel.PANEL_TEMPLATE,
                kinds=(RecordKind.CONTACT,),
                context=panel.panel_context,
            )
        )
