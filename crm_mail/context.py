"""Context every page template gets."""

from django.conf import settings
from django.utils.functional import SimpleLazyObject

from records.extensions import settings_sections
from records.types import all_record_types


def base(request):
    # Lazy: the login page and htmx partials never pay for the navigation query.
    return {
        "PRODUCT_NAME": "CRM Mail",
        "DEBUG": settings.DEBUG,
        "nav_record_types": SimpleLazyObject(all_record_types),
        "settings_sections": settings_sections(),
    }
