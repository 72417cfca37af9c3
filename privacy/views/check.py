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
from django.utils.translation import gettext as _
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
        return HttpResponseBadRequest(_("Unknown sender context."))
    return _render(
        request, contact, context, form_id, one_time_basis=request.GET.get("one_time_basis")
    )


# Which part of the fragment opens again with each fix form.
OPENS = {"subscribe_form": "subscribe", "once_form": "once", "basis_form": "standing"}


def _fix(request, pk, form, form_key: str, apply, *, summarize: bool = False):
    """One fix form of the check: do it and re-check (redirect without htmx), or show the
    form again with what was wrong.

    `apply(contact, cleaned_data)` does the fix and returns (notice, one-time basis or None);
    a ValidationError it raises lands on the form. `form_key` names the form in the fragment
    (and which part opens again).
    """
    contact = load_contact(request, pk, edit=True)
    context, form_id = _params(request.POST)
    if context is None:
        return HttpResponseBadRequest(_("Unknown sender context."))
    if form.is_valid():
        try:
            notice, basis = apply(contact, form.cleaned_data)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            return _done(request, contact, context, form_id, notice, one_time_basis=basis)
    error = " ".join(str(e) for e in form.non_field_errors()) if summarize else ""
    return _render(
        request, contact, context, form_id, open=OPENS[form_key], error=error, **{form_key: form}
    )


@login_required
@require_POST
def fix_subscribe(request, pk):
    def subscribe(contact, data):
        subscription_set(
            contact,
            SubscriptionType.builtin(SubscriptionKind.ONE_TO_ONE),
            SubscriptionState.SUBSCRIBED,
            actor=request.user,
            legal_basis=data["legal_basis"],
            explanation=data["explanation"],
        )
        return _("%(name)s is subscribed to One to one email.") % {"name": contact.name}, None

    form = SubscribeFixForm(request.POST, prefix="sub")
    return _fix(request, pk, form, "subscribe_form", subscribe, summarize=True)


@login_required
@require_POST
def fix_one_time_basis(request, pk):
    def record(contact, data):
        basis = one_time_basis_record(contact, request.user, data["basis"], data["explanation"])
        return _("One-time legal basis recorded."), basis

    form = LegalBasisForm(request.POST, prefix="once")
    return _fix(request, pk, form, "once_form", record)


@login_required
@require_POST
def fix_legal_basis(request, pk):
    def record(contact, data):
        legal_basis_record(contact, request.user, data["basis"], data["explanation"])
        return _("Legal basis recorded."), None

    form = LegalBasisForm(request.POST, prefix="standing")
    return _fix(request, pk, form, "basis_form", record)
