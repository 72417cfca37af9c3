"""Settings > Import: upload a file, map its columns, follow the run, download refused rows."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ..types import get_record_type
from . import services
from .fields import fields_for
from .forms import MappingForm, UploadForm
from .models import Import, ImportStatus
from .parsing import DELIMITERS, FileRefused
from .preview import preview

HISTORY = 20


def _require_import(user) -> None:
    if not services.can_import(user):
        raise PermissionDenied(_("A View-only seat cannot import records."))


@login_required
@require_http_methods(["GET", "POST"])
def import_index(request):
    _require_import(request.user)
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        if upload.size > services.max_bytes():
            form.add_error("file", services.too_big_message())
        else:
            try:
                created = services.import_create(
                    request.user, form.cleaned_data["type_slug"], upload.name, upload.read()
                )
            except FileRefused as refusal:
                form.add_error("file", str(refusal))
            else:
                return redirect("records:import", pk=created.pk)
    history = services.imports_for(request.user)[:HISTORY]
    return render(
        request,
        "records/imports/index.html",
        {"form": form, "imports": history, "max_mb": services.max_bytes() // (1024 * 1024)},
    )


def _columns(upload, record_type, mapping):
    by_key = {f.key: f for f in fields_for(record_type)}
    return {int(i): by_key[k] for i, k in mapping.items() if k in by_key}


@login_required
@require_http_methods(["GET", "POST"])
def import_detail(request, pk):
    upload = services.import_for(request.user, pk)
    record_type = get_record_type(upload.type_slug)
    context = {
        "upload": upload,
        "record_type": record_type,
        "delimiter": DELIMITERS.get(upload.delimiter, upload.delimiter),
        "can_resume": services.can_resume(upload),
        "option_lines": services.option_lines(upload),
    }
    if request.htmx and request.htmx.target == "progress":
        return render(request, "records/imports/detail.html#progress", context)
    if upload.status != ImportStatus.DRAFT:
        return render(request, "records/imports/detail.html", context)
    form = MappingForm(
        request.POST or None, upload=upload, record_type=record_type, user=request.user
    )
    action = request.POST.get("action")
    if request.method == "POST" and action == "preview":
        mapping = {k.removeprefix("col_"): request.POST.get(k, "") for k in form.columns}
        rows = preview(upload, request.user, _columns(upload, record_type, mapping))
        return render(request, "records/imports/detail.html#preview", {"preview": rows})
    if request.method == "POST" and form.is_valid():
        form.save()
        services.import_start(upload)
        messages.success(request, _("Import started: it goes on if you leave this page."))
        return redirect("records:import", pk=upload.pk)
    rows = preview(upload, request.user, _columns(upload, record_type, upload.mapping))
    return render(
        request, "records/imports/detail.html", {**context, "form": form, "preview": rows}
    )


@login_required
@require_POST
def import_resume(request, pk):
    upload = services.import_for(request.user, pk)
    if services.can_resume(upload):
        services.import_start(upload)
        messages.success(request, _("Import resumed from row %(n)s.") % {"n": upload.rows_done + 1})
    return redirect("records:import", pk=upload.pk)


@login_required
@require_GET
def import_errors(request, pk):
    upload: Import = services.import_for(request.user, pk)
    body = services.rejections_csv(upload)
    stem = upload.file_name.rsplit(".", 1)[0] or "import"
    response = HttpResponse("\ufeff" + body, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{stem}-errors.csv"'
    return response
