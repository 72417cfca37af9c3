from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from .models import Company, Contact, CustomObjectType, Deal, Team, Ticket, User


@admin.register(User)
class CrmUserAdmin(UserAdmin):
    list_display = ("username", "profile_name", "team", "seat", "record_access", "is_staff")
    fieldsets = UserAdmin.fieldsets + (
        ("CRM", {"fields": ("profile_name", "team", "seat", "record_access", "time_zone")}),
    )


admin.site.register(Team)
admin.site.register(CustomObjectType)
for model in (Contact, Company, Deal, Ticket):
    admin.site.register(
        model, list_display=("name", "owner", "updated_at"), search_fields=("name",)
    )
