from django.contrib import admin

from .models import (
    ContactOptOut,
    LegalBasis,
    PrivacyEvent,
    PrivacySettings,
    SubscriptionStatus,
    SubscriptionType,
)


@admin.register(SubscriptionType)
class SubscriptionTypeAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "is_builtin", "is_active"]


@admin.register(SubscriptionStatus)
class SubscriptionStatusAdmin(admin.ModelAdmin):
    list_display = ["contact", "subscription_type", "status", "updated_at"]
    raw_id_fields = ["contact", "updated_by"]


@admin.register(LegalBasis)
class LegalBasisAdmin(admin.ModelAdmin):
    list_display = ["contact", "basis", "one_time", "recorded_at", "revoked_at", "consumed_at"]
    raw_id_fields = ["contact", "recorded_by", "revoked_by"]


@admin.register(PrivacyEvent)
class PrivacyEventAdmin(admin.ModelAdmin):
    """Read-only: the audit trail is append-only."""

    list_display = ["at", "kind", "contact", "actor", "sender_context", "reason"]
    list_filter = ["kind", "sender_context"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


admin.site.register(PrivacySettings)
admin.site.register(ContactOptOut)
