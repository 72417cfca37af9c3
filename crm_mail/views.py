from django.http import JsonResponse
from django.views.decorators.http import require_GET

from . import health


@require_GET
def health_view(request):
    """Report database and broker reachability; 503 when either is down, for load balancers."""
    body = health.report()
    return JsonResponse(body, status=200 if body["status"] == "ok" else 503)
