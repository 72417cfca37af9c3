"""The builder's pages, under /sequences/ (namespace "sequences")."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.sequence_list, name="list"),
    path("new/", views.sequence_new, name="new"),
    path("<int:pk>/", views.sequence_detail, name="detail"),
    path("<int:pk>/edit/", views.sequence_edit, name="edit"),
    path("<int:pk>/clone/", views.sequence_clone, name="clone"),
    path("<int:pk>/archive/", views.sequence_archive, name="archive"),
    path("<int:pk>/restore/", views.sequence_archive, {"archive": False}, name="restore"),
]
