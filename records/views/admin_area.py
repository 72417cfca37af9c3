"""The admin area: users (seats, teams, record access), teams, custom object types and the
account's currency."""

from functools import wraps

from axes.models import AccessAttempt
from axes.utils import reset as reset_login_failures
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Sum
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from ..extensions import settings_groups
from ..forms import (
    AccountSettingsForm,
    CustomObjectTypeForm,
    PropertyDefinitionForm,
    TeamForm,
    UserForm,
)
from ..models import AccountSettings, CustomObjectType, PropertyDefinition, Team, User
from ..money import SAMPLE, Money


def admin_required(view):
    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_staff:
            raise PermissionDenied(_("Only account admins can open the admin area."))
        return view(request, *args, **kwargs)

    return wrapper


@login_required
def settings_home(request):
    """The first section the user may open (their own come before the admin area's)."""
    groups = settings_groups(request.user)
    if not groups:
        raise PermissionDenied(_("There are no settings to open."))
    return redirect(groups[0][1][0].href)


def locked_usernames() -> set[str]:
    """Usernames whose failed sign-ins within the cool-off reached the limit (django-axes)."""
    since = timezone.now() - settings.AXES_COOLOFF_TIME
    failures = (
        AccessAttempt.objects.filter(attempt_time__gte=since)
        .values("username")
        .annotate(failures=Sum("failures_since_start"))
    )
    return {row["username"] for row in failures if row["failures"] >= settings.AXES_FAILURE_LIMIT}


@admin_required
def user_list(request):
    users = list(User.objects.select_related("team").order_by("username"))
    locked = locked_usernames()
    for user in users:
        user.sign_in_locked = user.username in locked
    return render(request, "records/settings/users.html", {"users": users})


@admin_required
@require_POST
def user_unlock(request, pk):
    """Forget a user's failed sign-ins, which lifts a lockout of their username (and of an
    address whose failures were all theirs)."""
    user = get_object_or_404(User, pk=pk)
    reset_login_failures(username=user.username)
    messages.success(request, _("%(username)s can sign in again.") % {"username": user.username})
    return redirect("records:settings-users")


@admin_required
@require_http_methods(["GET", "POST"])
def user_edit(request, pk=None):
    user = get_object_or_404(User, pk=pk) if pk else User()
    form = UserForm(request.POST or None, instance=user)
    if request.method == "POST" and form.is_valid():
        if user.pk == request.user.pk and not form.cleaned_data["is_staff"]:
            form.add_error("is_staff", _("You cannot remove your own admin rights."))
        else:
            form.save()
            messages.success(
                request, _("Saved %(username)s.") % {"username": form.instance.username}
            )
            return redirect("records:settings-users")
    return render(request, "records/settings/user_form.html", {"form": form, "edited": user})


@admin_required
@require_http_methods(["GET", "POST"])
def team_list(request):
    form = TeamForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("Team %(name)s created.") % {"name": form.instance.name})
        return redirect("records:settings-teams")
    teams = Team.objects.prefetch_related("members")
    return render(request, "records/settings/teams.html", {"teams": teams, "form": form})


@admin_required
@require_http_methods(["GET", "POST"])
def object_type_list(request):
    form = CustomObjectTypeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        object_type = form.save()
        messages.success(
            request,
            _("Object type %(name)s created. Add its properties.") % {"name": object_type.name},
        )
        return redirect("records:settings-object", slug=object_type.slug)
    types = CustomObjectType.objects.prefetch_related("property_definitions")
    return render(request, "records/settings/objects.html", {"types": types, "form": form})


@admin_required
@require_http_methods(["GET", "POST"])
def object_type_detail(request, slug):
    object_type = get_object_or_404(CustomObjectType, slug=slug)
    type_form = CustomObjectTypeForm(instance=object_type)
    property_form = PropertyDefinitionForm(object_type=object_type)
    if request.method == "POST" and request.POST.get("action") == "rename":
        type_form = CustomObjectTypeForm(request.POST, instance=object_type)
        if type_form.is_valid():
            object_type = type_form.save()
            messages.success(request, _("Saved."))
            return redirect("records:settings-object", slug=object_type.slug)
    elif request.method == "POST":
        property_form = PropertyDefinitionForm(request.POST, object_type=object_type)
        if property_form.is_valid():
            property_form.save()
            messages.success(
                request,
                _("Property %(label)s added.") % {"label": property_form.instance.label},
            )
            return redirect("records:settings-object", slug=object_type.slug)
    return render(
        request,
        "records/settings/object_detail.html",
        {"object_type": object_type, "type_form": type_form, "property_form": property_form},
    )


@admin_required
@require_POST
def property_delete(request, slug, pk):
    definition = get_object_or_404(PropertyDefinition, object_type__slug=slug, pk=pk)
    definition.delete()
    messages.success(request, _("Property %(label)s deleted.") % {"label": definition.label})
    return redirect("records:settings-object", slug=slug)


@admin_required
@require_http_methods(["GET", "POST"])
def currency_settings(request):
    form = AccountSettingsForm(request.POST or None, instance=AccountSettings.load())
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(
            request,
            _("Deal amounts now read like %(sample)s.")
            % {"sample": Money.for_account().format(SAMPLE)},
        )
        return redirect("records:settings-currency")
    return render(
        request,
        "records/settings/currency.html",
        {"form": form, "sample": Money.for_account().format(SAMPLE)},
    )
