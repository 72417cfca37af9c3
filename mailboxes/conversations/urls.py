"""The conversations inbox: /conversations/."""

from django.urls import path, re_path

from mailboxes.conversations import views

urlpatterns = [
    path("conversations/", views.index, name="conversations"),
    path("conversations/<int:mailbox_id>/", views.inbox, name="conversations-inbox"),
    path("conversations/<int:mailbox_id>/list/", views.inbox_list, name="conversations-list"),
    re_path(
        r"^conversations/c/(?P<pk>\d+)/(?P<action>assign|priority|close|reopen|snooze|unsnooze|comment|reply|forward)/$",
        views.act,
        name="conversations-act",
    ),
    path(
        "conversations/c/<int:pk>/presence/", views.presence_report, name="conversations-presence"
    ),
    path(
        "conversations/email/<int:message_pk>/body/",
        views.message_body,
        name="conversations-body",
    ),
    path(
        "conversations/email/<int:message_pk>/images/",
        views.message_images,
        name="conversations-images",
    ),
]
