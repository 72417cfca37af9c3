from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from .models import Company, Contact, CustomObjectType, Deal, Holiday, Team, Ticket, User


@admin.register(User)
class CrmUserAdmin(UserAdmin):
    list_display = ("username", "profile_name", "team", "seat", "record_access", "is_staff")
    fieldsets = UserAdmin.fieldsets + (
        (
            "CRM",
            {
                "fields": (
                    "profile_name",
                    "team",
                    "seat",
                    "record_access",
                    "time_zone",
                    "working_hours",
                )
            },
        ),
    )


admin.site.register(Team)
admin.site.register(CustomObjectType)
admin.site.register(Holiday, list_display=("date", "name", "yearly", "country"))
for model in (Contact, Company, Deal, Ticket):
    admin.site.register(
        model, list_display=("name", "owner", "updated_at"), search_fields=("name",)
    )
