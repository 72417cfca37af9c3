"""Settings > Transactional email > Webhooks (admins)."""

from django.urls import path

from transactional.events import views

urlpatterns = [
    path("settings/transactional/webhooks/", views.webhooks_page, name="webhooks"),
    path("settings/transactional/webhooks/<int:pk>/", views.endpoint_page, name="webhook"),
    path(
        "settings/transactional/webhooks/<int:pk>/rotate/",
        views.endpoint_rotate,
        name="webhook-rotate",
    ),
    path(
        "settings/transactional/webhooks/<int:pk>/test/", views.endpoint_test, name="webhook-test"
    ),
    path(
        "settings/transactional/webhooks/<int:pk>/delete/",
        views.endpoint_delete,
        name="webhook-delete",
    ),
    path(
        "settings/transactional/webhooks/<int:pk>/deliveries/<int:delivery_pk>/redeliver/",
        views.delivery_redeliver,
        name="webhook-redeliver",
    ),
]
