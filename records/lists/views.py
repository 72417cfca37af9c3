"""Contacts > Lists: the index (with the create form), a list's page, rename, delete, and the
contacts' "Add to list" and "Remove from list" (both reached from a bulk bar with the
selected `id`s). Everyone signed in sees the lists; members are shown and changed only as far
as the user's record access goes (records/access.py), and the page says how many it hides."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods, require_POST

from ..access import visible_to
from ..models import Contact
from ..selectors import records_list
from ..types import get_record_type
from ..views.lists import list_params, results_context
from . import services
from .forms import AddToListForm, ListNameForm
from .models import ContactList


def _selected(request) -> list[int]:
    values = request.POST.getlist("id") if request.method == "POST" else request.GET.getlist("id")
    return list(dict.fromkeys(int(v) for v in values if v.isdigit()))


def _require(allowed: bool) -> None:
    if not allowed:
        raise PermissionDenied(_("Your seat cannot change this list."))


@login_required
@require_http_methods(["GET", "POST"])
def list_index(request):
    """Every list with its member count; a POST creates one."""
    form = ListNameForm()
    if request.method == "POST":
        _require(services.can_create(request.user))
        form = ListNameForm(request.POST)
        if form.is_valid():
            try:
                created = services.list_create(request.user, form.cleaned_data["name"])
            except services.ListNameTaken as taken:
                form.add_error("name", taken.message)
            else:
                messages.success(request, _("List “%(name)s” created.") % {"name": created.name})
                return redirect("records:contact-list", pk=created.pk)
    return render(
        request,
        "records/lists/index.html",
        {
            "lists": services.lists_with_counts(request.user),
            "form": form,
            "may_create": services.can_create(request.user),
        },
        status=400 if form.errors else 200,
    )


@login_required
def list_detail(request, pk):
    """The list's members the user may see, in the contacts index's table and bulk bar."""
    contact_list = get_object_or_404(ContactList.objects.select_related("created_by"), pk=pk)
    record_type = get_record_type("contacts")
    params = list_params(request, record_type)
    qs = records_list(request.user, record_type, **params).filter(
        list_memberships__contact_list=contact_list
    )
    page_actions = []
    if services.can_create(request.user):
        page_actions.append(
            (_("Remove from list"), reverse("records:contact-list-remove", args=[pk]))
        )
    context = {
        **results_context(request, record_type, qs, params),
        "contact_list": contact_list,
        "page_actions": page_actions,
        "export_all_url": reverse("records:export", args=["contacts"]) + f"?list={pk}",
        "empty_text": _("No members you can see match."),
    }
    if request.htmx and request.htmx.target == "results":
        return render(request, "records/lists/detail.html#results", context)
    total = contact_list.members.count()
    context |= {
        "total": total,
        "hidden": total - services.members_of(request.user, contact_list).count(),
        "may_change": services.can_change(request.user, contact_list),
    }
    return render(request, "records/lists/detail.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def list_rename(request, pk):
    contact_list = get_object_or_404(ContactList, pk=pk)
    _require(services.can_change(request.user, contact_list))
    form = ListNameForm(initial={"name": contact_list.name}, instance=contact_list)
    if request.method == "POST":
        form = ListNameForm(request.POST, instance=contact_list)
        if form.is_valid():
            try:
                services.list_rename(contact_list, form.cleaned_data["name"])
            except services.ListNameTaken as taken:
                form.add_error("name", taken.message)
            else:
                messages.success(request, _("List renamed."))
                return redirect("records:contact-list", pk=pk)
    return render(
        request,
        "records/lists/rename.html",
        {"contact_list": contact_list, "form": form},
        status=400 if form.errors else 200,
    )


@login_required
@require_POST
def list_delete(request, pk):
    contact_list = get_object_or_404(ContactList, pk=pk)
    _require(services.can_change(request.user, contact_list))
    contact_list.delete()
    messages.success(
        request,
        _("List “%(name)s” deleted; its contacts are still in the CRM.")
        % {"name": contact_list.name},
    )
    return redirect("records:contact-lists")


@login_required
@require_http_methods(["GET", "POST"])
def members_add(request):
    """The contacts index's "Add to list": the selected contacts into a list chosen or new."""
    _require(services.can_create(request.user))
    ids = _selected(request)
    contacts = list(visible_to(request.user, Contact.objects.filter(pk__in=ids)).order_by("name"))
    form = AddToListForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and contacts and form.is_valid():
        try:
            contact_list = form.cleaned_data["contact_list"] or services.list_create(
                request.user, form.cleaned_data["new_name"]
            )
        except services.ListNameTaken as taken:
            form.add_error("new_name", taken.message)
        else:
            added = services.members_add(request.user, contact_list, [c.pk for c in contacts])
            messages.success(request, _added_message(contact_list, len(added), len(contacts)))
            return redirect("records:contact-list", pk=contact_list.pk)
    return render(
        request,
        "records/lists/add.html",
        {"contacts": contacts, "form": form, "hidden": len(ids) - len(contacts)},
        status=400 if form.errors or (request.method == "POST" and not contacts) else 200,
    )


def _added_message(contact_list, added: int, chosen: int) -> str:
    text = ngettext(
        "%(count)d contact added to “%(name)s”.",
        "%(count)d contacts added to “%(name)s”.",
        added,
    ) % {"count": added, "name": contact_list.name}
    already = chosen - added
    if already:
        text += " " + ngettext(
            "%(count)d was in it already.", "%(count)d were in it already.", already
        ) % {"count": already}
    return text


@login_required
@require_http_methods(["GET", "POST"])
def members_remove(request, pk):
    """ "Remove from list" on the list's page: asks first, then takes the selected out."""
    contact_list = get_object_or_404(ContactList, pk=pk)
    _require(services.can_create(request.user))
    ids = _selected(request)
    contacts = list(services.members_of(request.user, contact_list).filter(pk__in=ids))
    if request.method == "POST":
        removed = services.members_remove(request.user, contact_list, [c.pk for c in contacts])
        messages.success(
            request,
            ngettext(
                "%(count)d contact removed from “%(name)s”.",
                "%(count)d contacts removed from “%(name)s”.",
                removed,
            )
            % {"count": removed, "name": contact_list.name},
        )
        return redirect("records:contact-list", pk=pk)
    return render(
        request, "records/lists/remove.html", {"contact_list": contact_list, "contacts": contacts}
    )
