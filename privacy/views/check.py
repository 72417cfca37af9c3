"""The htmx fragments the composer (and sequence enrollment) use before a send.

GET  .../privacy/check/?context=one_to_one   "you can send" or "you can't, because…" with fixes
POST .../privacy/check/subscribe/            add the One to one subscription, then re-check
POST .../privacy/check/one-time-basis/       record a one-time basis, then re-check
POST .../privacy/check/legal-basis/          record a standing basis, then re-check

The fragment is `<div id="privacy-check">`; its fix forms swap it (outerHTML). Because they are
forms, the fragment must sit outside the composer's own <form>; pass `?form=<composer form id>`
and the hidden `one_time_basis` input is tied to that form through its `form` attribute.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from ..checks import can_email
from ..constants import SenderContext, SubscriptionKind, SubscriptionState
from ..forms import FORM_ID, LegalBasisForm, SubscribeFixForm, add_service_errors
from ..models import SubscriptionType
from ..services import legal_basis_record, one_time_basis_record, subscription_set
from .panel import load_contact

TEMPLATE = "privacy/check.html#privacy-check"


def _params(data) -> tuple[str | None, str]:
    context = data.get("context", SenderContext.ONE_TO_ONE)
    form_id = data.get("form", "")
    return (
        context if context in SenderContext.values else None,
        form_id if FORM_ID.match(form_id) else "",
    )


def _render(request, contact, context, form_id, *, one_time_basis=None, **forms):
    decision = can_email(contact, context, one_time_basis=one_time_basis)
    return render(
        request,
        TEMPLATE,
        {
            "contact": contact,
            "context": context,
            "form_id": form_id,
            "decision": decision,
            "can_fix": request.user.can_edit_records,
            "subscribe_form": forms.get("subscribe_form") or SubscribeFixForm(prefix="sub"),
            "once_form": forms.get("once_form") or LegalBasisForm(prefix="once"),
            "basis_form": forms.get("basis_form") or LegalBasisForm(prefix="standing"),
            "open": forms.get("open", ""),
            "error": forms.get("error", ""),
        },
    )


def _done(request, contact, context, form_id, notice, *, one_time_basis=None):
    if not request.htmx:
        messages.success(request, notice)
        return redirect("records:detail", type_slug="contacts", pk=contact.pk)
    return _render(request, contact, context, form_id, one_time_basis=one_time_basis)


@login_required
@require_GET
def check(request, pk):
    """Show whether the contact can be emailed in `context`, and how to fix it if not.

    `one_time_basis=<id>` re-checks with a basis the composer already holds.
    """
    contact = load_contact(request, pk)
    context, form_id = _params(request.GET)
    if context is None:
        return HttpResponseBadRequest("Unknown sender context.")
    return _render(
        request, contact, context, form_id, one_time_basis=request.GET.get("one_time_basis")
    )


@login_required
@require_POST
def fix_subscribe(request, pk):
    contact = load_contact(request, pk, edit=True)
    context, form_id = _params(request.POST)
    if context is None:
        return HttpResponseBadRequest("Unknown sender context.")
    form = SubscribeFixForm(request.POST, prefix="sub")
    if form.is_valid():
        try:
            subscription_set(
                contact,
                SubscriptionType.builtin(SubscriptionKind.ONE_TO_ONE),
                SubscriptionState.SUBSCRIBED,
                actor=request.user,
                legal_basis=form.cleaned_data["legal_basis"],
                explanation=form.cleaned_data["explanation"],
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            notice = f"{contact.name} is subscribed to One to one email."
            return _done(request, contact, context, form_id, notice)
    return _render(
        request,
        contact,
        context,
        form_id,
        subscribe_form=form,
        open="subscribe",
        error=" ".join(str(e) for e in form.non_field_errors()),
    )


@login_required
@require_POST
def fix_one_time_basis(request, pk):
    contact = load_contact(request, pk, edit=True)
    context, form_id = _params(request.POST)
    if context is None:
        return HttpResponseBadRequest("Unknown sender context.")
    form = LegalBasisForm(request.POST, prefix="once")
    if form.is_valid():
        try:
            basis = one_time_basis_record(
                contact, request.user, form.cleaned_data["basis"], form.cleaned_data["explanation"]
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            notice = "One-time legal basis recorded."
            return _done(request, contact, context, form_id, notice, one_time_basis=basis)
    return _render(request, contact, context, form_id, once_form=form, open="once")


@login_required
@require_POST
def fix_legal_basis(request, pk):
    contact = load_contact(request, pk, edit=True)
    context, form_id = _params(request.POST)
    if context is None:
        return HttpResponseBadRequest("Unknown sender context.")
    form = LegalBasisForm(request.POST, prefix="standing")
    if form.is_valid():
        try:
            legal_basis_record(
                contact, request.user, form.cleaned_data["basis"], form.cleaned_data["explanation"]
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            return _done(request, contact, context, form_id, "Legal basis recorded.")
    return _render(request, contact, context, form_id, basis_form=form, open="standing")
