from django.urls import include, path

from .views import activities, admin_area, associations, calendar, detail, lists, preferences

app_name = "records"

_record = "records/<slug:type_slug>/<int:pk>/"

urlpatterns = [
    path("", lists.home, name="home"),
    path("lists/", include("records.lists.urls")),
    path("records/<slug:type_slug>/", lists.record_list, name="list"),
    path("records/<slug:type_slug>/export.csv", lists.record_export, name="export"),
    path("records/<slug:type_slug>/new/", detail.record_create, name="create"),
    path(_record, detail.record_detail, name="detail"),
    path(_record + "edit/", detail.record_edit, name="edit"),
    path(_record + "timeline/", detail.record_timeline, name="timeline"),
    path(_record + "notes/", activities.note_add, name="note-add"),
    path(_record + "tasks/", activities.task_add, name="task-add"),
    path(_record + "meetings/", activities.meeting_add, name="meeting-add"),
    path(_record + "notes/<int:activity_id>/edit/", activities.note_edit, name="note-edit"),
    path(_record + "tasks/<int:activity_id>/toggle/", activities.task_toggle, name="task-toggle"),
    path(_record + "associations/", associations.association_add, name="association-add"),
    path(
        _record + "associations/candidates/",
        associations.association_candidates,
        name="association-candidates",
    ),
    path(
        _record + "associations/<int:other_pk>/remove/",
        associations.association_remove,
        name="association-remove",
    ),
    path("settings/", admin_area.settings_home, name="settings"),
    path("settings/general/", preferences.general, name="settings-general"),
    path("settings/import/", include("records.imports.urls")),
    path("settings/users/", admin_area.user_list, name="settings-users"),
    path("settings/users/new/", admin_area.user_edit, name="settings-user-new"),
    path("settings/users/<int:pk>/", admin_area.user_edit, name="settings-user"),
    path("settings/users/<int:pk>/unlock/", admin_area.user_unlock, name="settings-user-unlock"),
    path("settings/teams/", admin_area.team_list, name="settings-teams"),
    path("settings/objects/", admin_area.object_type_list, name="settings-objects"),
    path("settings/currency/", admin_area.currency_settings, name="settings-currency"),
    path("settings/calendar/", calendar.calendar_settings, name="settings-calendar"),
    path(
        "settings/calendar/holidays/<int:pk>/delete/",
        calendar.holiday_delete,
        name="settings-holiday-delete",
    ),
    path("settings/objects/<slug:slug>/", admin_area.object_type_detail, name="settings-object"),
    path(
        "settings/objects/<slug:slug>/properties/<int:pk>/delete/",
        admin_area.property_delete,
        name="settings-property-delete",
    ),
]
