"""Small management pages for the user's templates, snippets and signatures."""

from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from mailboxes.composer.forms import EmailTemplateForm, SignatureForm, SnippetForm
from mailboxes.mime import sanitize
from mailboxes.models import EmailTemplate, Signature, Snippet


@dataclass(frozen=True)
class Kind:
    slug: str
    label: str
    plural: str
    model: type
    form: type
    html_field: str | None  # sanitized when saved


KINDS = {
    "templates": Kind(
        "templates", "template", "Templates", EmailTemplate, EmailTemplateForm, "body"
    ),
    "snippets": Kind("snippets", "snippet", "Snippets", Snippet, SnippetForm, None),
    "signatures": Kind("signatures", "signature", "Signatures", Signature, SignatureForm, "body"),
}


def _kind(slug: str) -> Kind:
    if slug not in KINDS:
        raise Http404("No such list")
    return KINDS[slug]


@login_required
@require_http_methods(["GET", "POST"])
def content_list(request, kind):
    kind = _kind(kind)
    return _edit(request, kind, kind.model(owner=request.user), created=True)


@login_required
@require_http_methods(["GET", "POST"])
def content_edit(request, kind, pk):
    kind = _kind(kind)
    item = get_object_or_404(kind.model, pk=pk, owner=request.user)  # only your own
    return _edit(request, kind, item, created=False)


def _edit(request, kind, item, *, created):
    form = kind.form(request.POST or None, instance=item)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            item = form.save(commit=False)
            if kind.html_field:
                setattr(
                    item, kind.html_field, sanitize.sanitize_html(getattr(item, kind.html_field))
                )
            if getattr(item, "is_default", False):
                Signature.objects.filter(owner=request.user, is_default=True).exclude(
                    pk=item.pk
                ).update(is_default=False)
            item.save()
        messages.success(request, f"Saved {kind.label} “{item.name}”.")
        return redirect("mailboxes:content", kind=kind.slug)
    items = kind.model.objects.filter(owner=request.user)
    return render(
        request,
        "mailboxes/composer/content.html",
        {
            "kind": kind,
            "kinds": KINDS.values(),
            "items": items,
            "form": form,
            "item": item,
            "creating": created,
        },
    )


@login_required
@require_POST
def content_delete(request, kind, pk):
    kind = _kind(kind)
    item = get_object_or_404(kind.model, pk=pk, owner=request.user)
    item.delete()
    messages.success(request, f"Deleted {kind.label} “{item.name}”.")
    return redirect("mailboxes:content", kind=kind.slug)
