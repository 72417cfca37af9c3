from django.urls import path

from transactional.api.views import api

# HubSpot's paths: /marketing/v3/transactional/single-email/send and
# /marketing/v3/email/send-statuses/{statusId}; the docs at /marketing/docs.
urlpatterns = [path("marketing/", api.urls)]
