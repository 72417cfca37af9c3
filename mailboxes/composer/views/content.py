"""Small management pages for the user's templates, snippets and signatures.

Who sees and changes what is decided in composer/library.py: the list shows what the user may
use (admins: also every shared one), edit and delete are the owner's or an admin's, and a
View-only seat changes nothing (403 on every POST). Bodies are sanitized by the forms.
"""

from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from mailboxes.composer import library
from mailboxes.composer.forms import EmailTemplateForm, SignatureForm, SnippetForm
from mailboxes.models import EmailTemplate, Signature, Snippet

VIEW_ONLY = gettext_lazy(
    "A View-only seat can't create or change templates, snippets or signatures."
)


@dataclass(frozen=True)
class Kind:
    slug: str
    label: str
    plural: str
    model: type
    form: type


KINDS = {
    "templates": Kind(
        "templates",
        gettext_lazy("template"),
        gettext_lazy("Templates"),
        EmailTemplate,
        EmailTemplateForm,
    ),
    "snippets": Kind(
        "snippets", gettext_lazy("snippet"), gettext_lazy("Snippets"), Snippet, SnippetForm
    ),
    "signatures": Kind(
        "signatures",
        gettext_lazy("signature"),
        gettext_lazy("Signatures"),
        Signature,
        SignatureForm,
    ),
}


def _kind(slug: str) -> Kind:
    if slug not in KINDS:
        raise Http404("No such list")
    return KINDS[slug]


def _editable(request, kind, pk):
    """The item, if the user may see it (else 404) and change it (else 403)."""
    item = get_object_or_404(library.listed(kind.model, request.user), pk=pk)
    if not library.can_create(request.user):
        raise PermissionDenied(VIEW_ONLY)
    if not library.can_edit(request.user, item):
        raise PermissionDenied(_("Only its owner or an admin can change this."))
    return item


@login_required
@require_http_methods(["GET", "POST"])
def content_list(request, kind):
    kind = _kind(kind)
    if request.method == "POST" and not library.can_create(request.user):
        raise PermissionDenied(VIEW_ONLY)
    return _edit(request, kind, kind.model(owner=request.user), created=True)


@login_required
@require_http_methods(["GET", "POST"])
def content_edit(request, kind, pk):
    kind = _kind(kind)
    return _edit(request, kind, _editable(request, kind, pk), created=False)


def _edit(request, kind, item, *, created):
    writer = library.can_create(request.user)
    form = kind.form(request.POST or None, instance=item) if writer else None
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            item = form.save(commit=False)
            if getattr(item, "is_default", False):
                Signature.objects.filter(owner=item.owner_id, is_default=True).exclude(
                    pk=item.pk
                ).update(is_default=False)
            item.save()
        messages.success(
            request, _("Saved %(kind)s “%(name)s”.") % {"kind": kind.label, "name": item.name}
        )
        return redirect("mailboxes:content", kind=kind.slug)
    items = [
        (i, library.can_edit(request.user, i))
        for i in library.listed(kind.model, request.user).order_by("name", "pk")
    ]
    return render(
        request,
        "mailboxes/composer/content.html",
        {
            "kind": kind,
            "items": items,
            "form": form,
            "item": item,
            "creating": created,
            "view_only": VIEW_ONLY if not writer else "",
        },
    )


@login_required
@require_POST
def content_delete(request, kind, pk):
    kind = _kind(kind)
    item = _editable(request, kind, pk)
    item.delete()
    messages.success(
        request, _("Deleted %(kind)s “%(name)s”.") % {"kind": kind.label, "name": item.name}
    )
    return redirect("mailboxes:content", kind=kind.slug)
