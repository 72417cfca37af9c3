"""Settings > Transactional email > Webhooks (admins). (A message's status history is read
through the API: transactional/api/events.py.)

A new or rotated secret is in the response to the POST that made it, never stored in clear
for a later page, and that response is not cached (as credentials/views.py does for keys)."""

from django.contrib import messages
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from records.views.admin_area import admin_required
from transactional.events import endpoints, webhooks
from transactional.events.constants import DeliveryStatus
from transactional.events.forms import EndpointForm
from transactional.events.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint

SECTION = "transactional-webhooks"
LOG_LENGTH = 50


@admin_required
@never_cache
@require_http_methods(["GET", "POST"])
def webhooks_page(request):
    """The endpoints and "Add endpoint"; after adding, the endpoint's page with its secret."""
    form = EndpointForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        endpoint, secret = endpoints.endpoint_create(form, request.user)
        return _endpoint_page(request, endpoint, secret=secret)
    context = {"form": form, "endpoints": WebhookEndpoint.objects.all(), "section": SECTION}
    return render(request, "transactional/events/webhooks.html", context)


def _endpoint_page(request, endpoint, form=None, secret=None):
    deliveries = (
        endpoint.deliveries.select_related("event")
        .prefetch_related(Prefetch("attempt_log", queryset=WebhookAttempt.objects.all()))
        .order_by("-created_at", "-pk")[:LOG_LENGTH]
    )
    context = {
        "endpoint": endpoint,
        "form": form or EndpointForm(instance=endpoint),
        "deliveries": deliveries,
        "secret": secret,
        "section": SECTION,
    }
    return render(request, "transactional/events/endpoint.html", context)


@admin_required
@never_cache
@require_http_methods(["GET", "POST"])
def endpoint_page(request, pk):
    """An endpoint: its settings, "Send test event", "Rotate secret" and its delivery log."""
    endpoint = get_object_or_404(WebhookEndpoint, pk=pk)
    form = None
    if request.method == "POST":
        form = EndpointForm(request.POST, instance=endpoint)
        if form.is_valid():
            form.save()
            messages.success(request, _("Endpoint saved."))
            return redirect("transactional:webhook", pk=pk)
        endpoint.refresh_from_db()  # the header shows what is saved, not what was typed
    return _endpoint_page(request, endpoint, form)


@admin_required
@never_cache
@require_POST
def endpoint_rotate(request, pk):
    endpoint = get_object_or_404(WebhookEndpoint, pk=pk)
    return _endpoint_page(request, endpoint, secret=endpoints.secret_rotate(endpoint))


@admin_required
@require_POST
def endpoint_test(request, pk):
    endpoint = get_object_or_404(WebhookEndpoint, pk=pk)
    endpoints.send_test(endpoint)
    messages.success(request, _("Test event queued: it shows in the delivery log below."))
    return redirect("transactional:webhook", pk=pk)


@admin_required
@require_POST
def endpoint_delete(request, pk):
    endpoint = get_object_or_404(WebhookEndpoint, pk=pk)
    endpoint.delete()
    messages.success(request, _("Endpoint %(url)s deleted.") % {"url": endpoint.url})
    return redirect("transactional:webhooks")


@admin_required
@require_POST
def delivery_redeliver(request, pk, delivery_pk):
    delivery = get_object_or_404(
        WebhookDelivery.objects.select_related("endpoint"), pk=delivery_pk, endpoint_id=pk
    )
    if delivery.status == DeliveryStatus.PENDING:
        messages.error(request, _("That event is already waiting for its next try."))
        return redirect("transactional:webhook", pk=pk)
    if not delivery.endpoint.enabled and delivery.event_id is not None:
        messages.error(request, _("The endpoint is disabled: enable it first."))
        return redirect("transactional:webhook", pk=pk)
    webhooks.redeliver(delivery)
    messages.success(
        request,
        _("Event %(id)s queued again, with the same id.") % {"id": delivery.webhook_id},
    )
    return redirect("transactional:webhook", pk=pk)
