from django.contrib import admin

from mailboxes.models import DomainServerSettings, Mailbox, TeamInbox


@admin.register(DomainServerSettings)
class DomainServerSettingsAdmin(admin.ModelAdmin):
    list_display = ("domain", "imap_host", "imap_port", "smtp_host", "smtp_port")
    search_fields = ("domain",)


@admin.register(Mailbox)
class MailboxAdmin(admin.ModelAdmin):
    # The encrypted secret is never shown, not even to superusers.
    exclude = ("secret",)
    list_display = ("email", "kind", "provider", "owner", "status", "last_sync_at")
    list_filter = ("kind", "provider", "status")
    # Limits change under Settings > All inboxes, which keeps them within the provider's caps.
    readonly_fields = (
        "status_reason",
        "last_sync_at",
        "created_at",
        "send_per_minute",
        "send_per_day",
    )


admin.site.register(TeamInbox)
