"""An email on a record's timeline: its thread, its body frame, and what can be done to it."""

from django.urls import path, re_path

from mailboxes.timeline.views import outbound, threads

_record = "records/<slug:type_slug>/<int:pk>/"

urlpatterns = [
    path(_record + "email/<int:message_pk>/thread/", threads.thread, name="thread"),
    path(_record + "email/<int:message_pk>/delete/", outbound.email_delete, name="email-delete"),
    path(_record + "email/<int:message_pk>/images/", threads.email_images, name="email-images"),
    re_path(
        r"^records/(?P<type_slug>[-\w]+)/(?P<pk>\d+)/email/(?P<message_pk>\d+)/"
        r"(?P<action>cancel|send-now|send-again|mark-sent)/$",
        outbound.outbound_action,
        name="outbound-action",
    ),
    path("email/<int:message_pk>/body/", threads.body, name="email-body"),
]
