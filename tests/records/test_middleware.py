"""Dates in the signed-in user's time zone; public views never look the user up."""

import pytest
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.test import RequestFactory
from django.utils import timezone
from django.utils.functional import SimpleLazyObject

from records.middleware import UserTimezoneMiddleware, public_view

pytestmark = pytest.mark.django_db


def page(request):
    return None


@public_view
def pixel(request):
    return None


def run(view, user):
    request = RequestFactory().get("/")
    looked_up = []
    request.user = SimpleLazyObject(lambda: looked_up.append(1) or user)
    UserTimezoneMiddleware(lambda r: None).process_view(request, view, (), {})
    return timezone.get_current_timezone_name(), bool(looked_up)


def test_a_signed_in_users_pages_use_their_time_zone(owner):
    owner.time_zone = "America/New_York"
    try:
        assert run(page, owner) == ("America/New_York", True)
        assert run(page, AnonymousUser()) == (settings.TIME_ZONE, True)
    finally:
        timezone.deactivate()


def test_a_public_view_never_looks_the_user_up(owner):
    owner.time_zone = "America/New_York"
    assert run(pixel, owner) == (settings.TIME_ZONE, False)
