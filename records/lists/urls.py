"""Contacts > Lists (records/urls.py mounts them under /lists/, namespace "records")."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.list_index, name="contact-lists"),
    path("add/", views.members_add, name="contact-list-add"),
    path("<int:pk>/", views.list_detail, name="contact-list"),
    path("<int:pk>/rename/", views.list_rename, name="contact-list-rename"),
    path("<int:pk>/delete/", views.list_delete, name="contact-list-delete"),
    path("<int:pk>/remove/", views.members_remove, name="contact-list-remove"),
]
