from django.urls import path

from transactional.emails import views

urlpatterns = [
    path("transactional/emails/", views.email_list, name="emails"),
    path("transactional/emails/new/", views.email_create, name="email-create"),
    path("transactional/emails/<int:pk>/", views.email_edit, name="email"),
    path("transactional/emails/<int:pk>/publish/", views.email_publish, name="email-publish"),
    path("transactional/emails/<int:pk>/send/", views.email_send, name="email-send"),
    path(
        "transactional/emails/<int:pk>/preview/<int:contact_pk>/",
        views.email_preview,
        name="email-preview",
    ),
]
