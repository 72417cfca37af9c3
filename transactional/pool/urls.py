from django.urls import path

from transactional.pool import views

urlpatterns = [
    path("settings/transactional/", views.addon, name="addon"),
    path("settings/transactional/pool/", views.pool_settings, name="pool"),
    path("settings/transactional/queue/", views.queue_page, name="queue"),
]
