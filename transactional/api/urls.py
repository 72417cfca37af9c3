from django.urls import path

from transactional.api import fast
from transactional.api.constants import SEND_PATH
from transactional.api.views import api

# HubSpot's paths: /marketing/v3/transactional/single-email/send and
# /marketing/v3/email/send-statuses/{statusId}; the docs at /marketing/docs. The single
# send's common request is answered in front of ninja's operation (fast.py), which takes the
# rest.
ninja_urls = api.urls
urlpatterns = [
    path("marketing" + SEND_PATH, fast.view(ninja_urls[0])),
    path("marketing/", ninja_urls),
]
