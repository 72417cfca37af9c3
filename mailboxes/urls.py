from django.urls import path, re_path

from .views import (
    all_inboxes,
    composer,
    connect,
    content,
    oauth,
    outbound,
    settings_email,
    team_inboxes,
    threads,
)

app_name = "mailboxes"

_record = "records/<slug:type_slug>/<int:pk>/"

urlpatterns = [
    path(_record + "email/", composer.compose, name="compose"),
    path(_record + "email/<int:message_pk>/thread/", threads.thread, name="thread"),
    path(_record + "email/<int:message_pk>/delete/", outbound.email_delete, name="email-delete"),
    re_path(
        r"^records/(?P<type_slug>[-\w]+)/(?P<pk>\d+)/email/(?P<message_pk>\d+)/"
        r"(?P<action>cancel|send-now|send-again|mark-sent)/$",
        outbound.outbound_action,
        name="outbound-action",
    ),
    path("email/<int:message_pk>/body/", threads.body, name="email-body"),
    path(
        _record + "email/templates/<int:template_pk>/",
        composer.insert_template,
        name="insert-template",
    ),
    path("settings/email/", settings_email.email_settings, name="settings"),
    re_path(
        r"^settings/email/(?P<kind>templates|snippets|signatures)/$",
        content.content_list,
        name="content",
    ),
    re_path(
        r"^settings/email/(?P<kind>templates|snippets|signatures)/(?P<pk>\d+)/$",
        content.content_edit,
        name="content-edit",
    ),
    re_path(
        r"^settings/email/(?P<kind>templates|snippets|signatures)/(?P<pk>\d+)/delete/$",
        content.content_delete,
        name="content-delete",
    ),
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
