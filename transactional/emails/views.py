"""Transactional emails: the list, the editor, publishing for the API (the email ID and a
curl example) and sending to chosen contacts after a review. Every seat that may reach out
creates, edits, publishes and sends them (admins too); a View-only seat only looks."""

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from mailboxes.timeline.views.threads import framed_body
from transactional.emails import review as reviewing
from transactional.emails.forms import EmailForm, RecipientsForm
from transactional.emails.models import EmailState, TransactionalEmail
from transactional.emails.render import custom_names
from transactional.pool.models import SendingPool
from transactional.pool.transport import unavailable

SECTION = "transactional-emails"


def _may_change(request) -> None:
    if not request.user.can_reach_out:
        raise PermissionDenied


@login_required
def email_list(request):
    emails = TransactionalEmail.objects.order_by("-updated_at")
    return render(
        request,
        "transactional/emails/list.html",
        {"section": SECTION, "emails": emails, "may_change": request.user.can_reach_out},
    )


@login_required
@require_http_methods(["GET", "POST"])
def email_create(request):
    _may_change(request)
    form = EmailForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        email = form.save(commit=False)
        email.created_by = request.user
        email.save()
        messages.success(request, _("Saved as a draft."))
        return redirect("transactional:email", email.pk)
    return render(request, "transactional/emails/edit.html", {"section": SECTION, "form": form})


def curl_example(request, email: TransactionalEmail) -> str:
    url = request.build_absolute_uri("/marketing/v3/transactional/single-email/send")
    body = {
        "emailId": email.pk,
        "message": {"to": "customer@example.com", "sendId": "order-1001"},
        "contactProperties": {"firstname": "Ada"},
        "customProperties": {name: f"<{name}>" for name in custom_names(email.subject, email.body)},
    }
    return (
        f"curl -X POST '{url}' \\\n"
        "  -H 'Authorization: Bearer <your API key>' \\\n"
        "  -H 'Content-Type: application/json' \\\n"
        f"  -d '{json.dumps(body)}'"
    )


@login_required
@require_http_methods(["GET", "POST"])
def email_edit(request, pk):
    email = get_object_or_404(TransactionalEmail, pk=pk)
    form = EmailForm(instance=email)
    if request.method == "POST":
        _may_change(request)
        form = EmailForm(request.POST, instance=email)
        if form.is_valid():
            form.save()
            messages.success(request, _("Saved."))
            return redirect("transactional:email", email.pk)
    return render(
        request,
        "transactional/emails/edit.html",
        {
            "section": SECTION,
            "form": form,
            "email": email,
            "curl": curl_example(request, email) if email.is_published else "",
            "may_change": request.user.can_reach_out,
            "why": unavailable(SendingPool.load()),
        },
    )


@login_required
@require_POST
def email_publish(request, pk):
    _may_change(request)
    email = get_object_or_404(TransactionalEmail, pk=pk)
    if request.POST.get("unpublish"):
        email.state, email.published_at = EmailState.DRAFT, None
        messages.success(request, _("Unpublished: the API refuses it until you publish it again."))
    else:
        email.state, email.published_at = EmailState.PUBLISHED, timezone.now()
        messages.success(request, _("Published: the single-send API can send it now."))
    email.save(update_fields=["state", "published_at", "updated_at"])
    return redirect("transactional:email", email.pk)


@login_required
@require_http_methods(["GET", "POST"])
def email_send(request, pk):
    """Step one posts the recipients and shows the review; step two (`confirm`) sends what
    the same recipients give then, so nothing refused in the meantime goes out."""
    _may_change(request)
    email = get_object_or_404(TransactionalEmail, pk=pk)
    form = RecipientsForm(request.POST or None)
    lines = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        lines = reviewing.review(email, request.user, form.address_list(), data["contact_list"])
        if request.POST.get("confirm"):
            at = data["send_at"] if data["when"] == "later" else None
            count = reviewing.send(email, request.user, lines, scheduled_at=at)
            words = (
                ngettext("Scheduled for %(n)d contact.", "Scheduled for %(n)d contacts.", count)
                if at
                else ngettext("Queued for %(n)d contact.", "Queued for %(n)d contacts.", count)
            )
            messages.success(request, words % {"n": count})
            return redirect("transactional:email", email.pk)
    return render(
        request,
        "transactional/emails/send.html",
        {
            "section": SECTION,
            "email": email,
            "form": form,
            "lines": lines,
            "ready": sum(1 for line in lines or () if not line.refused),
            # The body the first recipient gets is shown; each other one's on demand.
            "preview": next((line for line in lines or () if line.rendered), None),
            "why": unavailable(SendingPool.load()),
        },
    )


@login_required
@require_GET
@xframe_options_sameorigin
def email_preview(request, pk, contact_pk):
    """The body one recipient gets, for the review's sandboxed frame (the timeline's way of
    showing a body: no script, its own CSP); 404 for a contact outside your access."""
    _may_change(request)
    email = get_object_or_404(TransactionalEmail, pk=pk)
    content = reviewing.preview(email, request.user, contact_pk)
    if content is None:
        raise Http404("No such contact")
    # The author's own email: its images show, as the recipient's mail client would.
    return framed_body(content, show_images=True)
