"""Settings > General: each user's own profile and the preferences the apps add to it."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from ..extensions import preferences_sections
from ..forms import ProfileForm


@login_required
@require_http_methods(["GET", "POST"])
def general(request):
    """One form across the sections: every part is validated, and all are saved in one
    transaction or none is (a refused field never leaves the others half saved)."""
    data = request.POST if request.method == "POST" else None
    user = request.user
    profile = ProfileForm(data, instance=user, prefix="profile")
    sections = [(s, s.form(user, data)) for s in preferences_sections()]
    forms = [profile, *(form for _section, form in sections)]
    if data is not None:
        if all([form.is_valid() for form in forms]):  # a list: every form shows its errors
            with transaction.atomic():
                for form in forms:
                    form.save()
            messages.success(request, _("Your preferences are saved."))
            return redirect("records:settings-general")
        messages.error(request, _("Nothing was saved: correct the fields marked below."))
    return render(
        request,
        "records/settings/general.html",
        {"profile_form": profile, "sections": sections},
    )
