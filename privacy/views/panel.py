"""The "Communication preferences" panel on a contact's record page, and its htmx forms.

Every view loads the contact through records.access (404 outside the user's access) and every
change requires an editing seat (403 for View-only).
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from records.access import get_record_for_user, require_edit
from records.models import Contact

from ..constants import LegalBasisKind, OptOutSource
from ..forms import LegalBasisForm, SubscriptionChangeForm, add_service_errors
from ..models import LegalBasis
from ..selectors import contact_privacy_overview
from ..services import legal_basis_record, legal_basis_revoke, opt_out_of_all, subscription_set

PANEL_TEMPLATE = "privacy/panel.html"


def load_contact(request, pk: int, *, edit: bool = False) -> Contact:
    """The contact `pk` if the user may see it (404 otherwise) and, for a change, edit (403)."""
    _, contact = get_record_for_user(request.user, "contacts", pk)
    if edit:
        require_edit(request.user)
    return contact


def panel_context(request, record, **extra) -> dict:
    """Context of the panel; records calls it for the record page (RecordPanel.context)."""
    context = {
        "privacy": contact_privacy_overview(record),
        "basis_form": LegalBasisForm(prefix="basis"),
        "legal_basis_choices": LegalBasisKind.choices,
        "can_edit": request.user.can_edit_records,
        "contact": record,
    }
    context.update(extra)
    return context


def _panel_response(request, contact, *, notice="", error="", **extra):
    """htmx gets the refreshed panel; a plain form post goes back to the record page."""
    if not request.htmx:
        if error:
            messages.error(request, error)
        elif notice:
            messages.success(request, notice)
        return redirect("records:detail", type_slug="contacts", pk=contact.pk)
    panel = panel_context(request, contact, notice=notice, error=error, **extra)
    return render(request, PANEL_TEMPLATE, {"panel": panel, "record": contact})


def _error_text(error: ValidationError) -> str:
    return " ".join(error.messages)


def _form_error_text(form) -> str:
    return " ".join(str(e) for errors in form.errors.values() for e in errors)


@login_required
@require_GET
def panel(request, pk):
    contact = load_contact(request, pk)
    panel = panel_context(request, contact)
    return render(request, PANEL_TEMPLATE, {"panel": panel, "record": contact})


@login_required
@require_POST
def basis_add(request, pk):
    contact = load_contact(request, pk, edit=True)
    form = LegalBasisForm(request.POST, prefix="basis")
    if form.is_valid():
        try:
            legal_basis_record(
                contact, request.user, form.cleaned_data["basis"], form.cleaned_data["explanation"]
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            return _panel_response(request, contact, notice=_("Legal basis recorded."))
    return _panel_response(
        request,
        contact,
        error=_("The legal basis was not recorded: see below."),
        basis_form=form,
        basis_open=True,
    )


@login_required
@require_POST
def basis_revoke(request, pk, basis_pk):
    contact = load_contact(request, pk, edit=True)
    basis = get_object_or_404(LegalBasis, pk=basis_pk, contact=contact)
    legal_basis_revoke(basis, actor=request.user)
    return _panel_response(request, contact, notice=_("Legal basis revoked."))


@login_required
@require_POST
def subscription_change(request, pk):
    contact = load_contact(request, pk, edit=True)
    form = SubscriptionChangeForm(request.POST)
    # A refused Subscribe form comes back open with the basis and explanation as typed.
    typed = {
        k: request.POST.get(k, "") for k in ("subscription_type", "legal_basis", "explanation")
    }
    if not form.is_valid():
        return _panel_response(
            request, contact, error=_form_error_text(form), subscribe_typed=typed
        )
    data = form.cleaned_data
    try:
        subscription_set(
            contact,
            data["subscription_type"],
            data["status"],
            actor=request.user,
            legal_basis=data["legal_basis"] or None,
            explanation=data["explanation"],
        )
    except ValidationError as error:
        return _panel_response(request, contact, error=_error_text(error), subscribe_typed=typed)
    name = data["subscription_type"].name
    return _panel_response(
        request, contact, notice=_("%(subscription)s: saved.") % {"subscription": name}
    )


@login_required
@require_POST
def opt_out(request, pk):
    contact = load_contact(request, pk, edit=True)
    opt_out_of_all(contact, source=OptOutSource.REP, actor=request.user)
    return _panel_response(
        request,
        contact,
        notice=_("%(name)s is opted out of all email.") % {"name": contact.name},
    )
