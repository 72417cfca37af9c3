"""The enrollment pages (sequences/urls.py mounts them under /sequences/)."""

from django.urls import path

from . import actions, views

urlpatterns = [
    path("<int:pk>/enroll/", views.enroll_one, name="enroll"),
    path("<int:pk>/enroll/bulk/", views.enroll_bulk, name="enroll-bulk"),
    path("<int:pk>/enrollments/", actions.enrollment_list, name="enrollments"),
    path("enroll/", views.pick_sequence, name="pick-sequence"),
    path("record/<slug:type_slug>/<int:pk>/enroll/", views.record_enroll, name="record-enroll"),
    path("enrollments/<int:pk>/<str:verb>/", actions.enrollment_action, name="enrollment-action"),
]
