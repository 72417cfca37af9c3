"""Context every page template gets."""

from django.conf import settings
from django.utils.functional import SimpleLazyObject

from records.extensions import settings_groups
from records.types import record_types_for


def base(request):
    # Lazy: the login page and htmx partials never pay for the navigation query.
    return {
        "PRODUCT_NAME": "CRM Mail",
        "DEBUG": settings.DEBUG,
        "nav_record_types": SimpleLazyObject(lambda: record_types_for(request)),
        "settings_nav": SimpleLazyObject(lambda: settings_groups(request.user)),
    }
