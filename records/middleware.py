import zoneinfo

from django.utils import timezone


def public_view(view):
    """Mark a view anyone may call (tracking pixel, tracked link): no user or session is
    looked up for it, so it costs no session query and its answer does not vary by cookie."""
    view.public_view = True
    return view


class UserTimezoneMiddleware:
    """Show dates in the signed-in user's own time zone."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            return self.get_response(request)
        finally:
            # The thread serves other requests (and, in tests, other code) next: never leave a
            # viewer's zone behind for whatever runs there.
            timezone.deactivate()

    def process_view(self, request, view_func, view_args, view_kwargs):
        user = None if getattr(view_func, "public_view", False) else getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            try:
                timezone.activate(zoneinfo.ZoneInfo(user.time_zone))
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                timezone.deactivate()
        else:
            timezone.deactivate()
        return None
