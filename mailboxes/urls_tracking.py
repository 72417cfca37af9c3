"""Tracking endpoints, mounted at /t/ (short: they appear in every tracked link)."""

from django.urls import path

from .views import tracking

app_name = "tracking"

urlpatterns = [
    path("o/<str:token>.gif", tracking.open_pixel, name="open"),
    path("c/<str:token>", tracking.click, name="click"),
]
