"""The ledger: the top bar's "Email"."""

from django.urls import path, re_path

from mailboxes.ledger import views

urlpatterns = [
    path("email/", views.ledger, name="ledger"),
    re_path(
        r"^email/(?P<message_pk>\d+)/(?P<action>cancel|send-now|send-again|mark-sent)/$",
        views.ledger_action,
        name="ledger-action",
    ),
]
