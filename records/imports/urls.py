"""Settings > Import (records/urls.py mounts them under /settings/import/)."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.import_index, name="imports"),
    path("<int:pk>/", views.import_detail, name="import"),
    path("<int:pk>/resume/", views.import_resume, name="import-resume"),
    path("<int:pk>/errors.csv", views.import_errors, name="import-errors"),
]
