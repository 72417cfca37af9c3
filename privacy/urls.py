from django.urls import path

from .views import admin_area, check, panel, preferences

app_name = "privacy"

_contact = "records/contacts/<int:pk>/privacy/"

urlpatterns = [
    path(_contact, panel.panel, name="panel"),
    path(_contact + "bases/", panel.basis_add, name="basis-add"),
    path(_contact + "bases/<int:basis_pk>/revoke/", panel.basis_revoke, name="basis-revoke"),
    path(_contact + "subscriptions/", panel.subscription_change, name="subscription-set"),
    path(_contact + "opt-out/", panel.opt_out, name="opt-out"),
    path(_contact + "check/", check.check, name="check"),
    path(_contact + "check/subscribe/", check.fix_subscribe, name="check-subscribe"),
    path(_contact + "check/one-time-basis/", check.fix_one_time_basis, name="check-one-time"),
    path(_contact + "check/legal-basis/", check.fix_legal_basis, name="check-legal-basis"),
    path("preferences/<str:token>/", preferences.preferences, name="preferences"),
    path("preferences/<str:token>/one-click/", preferences.one_click, name="one-click"),
    path("settings/privacy/", admin_area.privacy_settings, name="settings"),
    path(
        "settings/privacy/types/<int:pk>/",
        admin_area.subscription_type_edit,
        name="settings-type",
    ),
    path("settings/privacy/audit/", admin_area.audit, name="audit"),
    path("settings/privacy/audit/export.csv", admin_area.audit_export, name="audit-export"),
]
