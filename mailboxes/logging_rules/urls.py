"""Settings > Email > Logging."""

from django.urls import path

from mailboxes.logging_rules import views

urlpatterns = [
    path("settings/email/logging/", views.logging_rules_page, name="logging-rules"),
    path("settings/email/logging/own-domain/", views.add_own_domain, name="logging-rules-domain"),
]
