"""Tracking endpoints, mounted at /t/ (short: they appear in every tracked link)."""

from django.urls import path

from mailboxes.tracking import views

app_name = "tracking"

urlpatterns = [
    path("o/<str:token>.gif", views.open_pixel, name="open"),
    path("c/<str:token>", views.click, name="click"),
]
