"""Settings pages for connecting inboxes: personal, team and the admins' list of all of them."""

from django.urls import path, re_path
from django.views.generic import RedirectView

from mailboxes.connecting.views import (
    all_inboxes,
    connect,
    oauth,
    sending,
    settings_email,
    team_inboxes,
)

urlpatterns = [
    path("settings/email/inboxes/", settings_email.email_settings, name="settings"),
    path("settings/email/sending/", sending.sending_settings, name="sending-settings"),
    # Where the top bar's "Email" used to lead.
    path("settings/email/", RedirectView.as_view(pattern_name="mailboxes:settings")),
    path("settings/email/<int:pk>/default/", settings_email.set_default_from, name="default"),
    path("settings/email/<int:pk>/disconnect/", settings_email.disconnect, name="disconnect"),
    path("settings/email/connect/", connect.connect_start, name="connect"),
    path("settings/email/connect/imap/", connect.connect_imap, name="connect-imap"),
    path("settings/email/connect/exchange/", connect.connect_exchange, name="connect-exchange"),
    re_path(
        r"^settings/email/connect/(?P<provider>gmail|office365)/$",
        connect.connect_oauth_intro,
        name="connect-oauth",
    ),
    path("settings/email/oauth/google/", oauth.google_start, name="oauth-google"),
    path(
        "settings/email/oauth/google/callback/",
        oauth.google_callback,
        name="oauth-google-callback",
    ),
    path("settings/email/oauth/microsoft/", oauth.microsoft_start, name="oauth-microsoft"),
    path(
        "settings/email/oauth/microsoft/callback/",
        oauth.microsoft_callback,
        name="oauth-microsoft-callback",
    ),
    path("settings/connected-inboxes/", all_inboxes.inbox_list, name="all-inboxes"),
    path(
        "settings/connected-inboxes/<int:pk>/limits/",
        all_inboxes.inbox_limits,
        name="all-inbox-limits",
    ),
    path(
        "settings/connected-inboxes/<int:pk>/disconnect/",
        all_inboxes.inbox_disconnect,
        name="all-inbox-disconnect",
    ),
    path("settings/inboxes/", team_inboxes.team_inbox_list, name="team-inboxes"),
    path("settings/inboxes/<int:pk>/", team_inboxes.team_inbox_detail, name="team-inbox"),
    path(
        "settings/inboxes/<int:pk>/disconnect/",
        team_inboxes.team_inbox_disconnect,
        name="team-inbox-disconnect",
    ),
]
