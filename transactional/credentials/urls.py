"""Settings > Email > SMTP API and Settings > Integrations > API keys (admins)."""

from django.urls import path

from transactional.credentials import views

urlpatterns = [
    path("settings/email/smtp-api/", views.smtp_tokens, name="smtp-tokens"),
    path("settings/email/smtp-api/<int:pk>/", views.smtp_token, name="smtp-token"),
    path(
        "settings/email/smtp-api/<int:pk>/reset/", views.smtp_token_reset, name="smtp-token-reset"
    ),
    path(
        "settings/email/smtp-api/<int:pk>/delete/",
        views.smtp_token_delete,
        name="smtp-token-delete",
    ),
    path(
        "settings/email/smtp-api/<int:pk>/unlock/",
        views.smtp_token_unlock,
        name="smtp-token-unlock",
    ),
    path("settings/integrations/api-keys/", views.api_keys, name="api-keys"),
    path(
        "settings/integrations/api-keys/<int:pk>/revoke/",
        views.api_key_revoke,
        name="api-key-revoke",
    ),
]
