"""Starting, resuming and reading imports: what the pages call."""

import csv
import io
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from .. import jobs
from ..models import User
from ..types import RecordType
from .extensions import import_option
from .fields import fields_for, guess
from .models import Import, ImportFile, ImportStatus
from .parsing import FileRefused, parse

# A run that has written nothing for this long is taken for dead: it may be resumed.
STALLED_AFTER = timedelta(minutes=5)


def can_import(user: User) -> bool:
    """Admins import for anyone; reps for records they will own; View-only seats not at all."""
    return user.is_authenticated and user.can_edit_records


def max_bytes() -> int:
    return settings.CRM_IMPORT_MAX_MB * 1024 * 1024


@transaction.atomic
def import_create(user: User, record_type: RecordType, name: str, data: bytes) -> Import:
    """Keep an uploaded file with what was read of it and the columns' guessed mapping; raise
    FileRefused with the reason a file cannot be imported (nothing kept then)."""
    if len(data) > max_bytes():
        raise FileRefused(too_big_message())
    parsed = parse(data)
    fields = fields_for(record_type)
    mapping = guess(parsed.header, fields)
    upload = Import.objects.create(
        type_slug=record_type.slug,
        file_name=name[:255],
        created_by=user,
        status=ImportStatus.DRAFT,
        delimiter=parsed.delimiter,
        encoding=parsed.encoding,
        header=parsed.header,
        total=parsed.total,
        mapping=mapping,
        match_on=default_match(record_type, parsed.header, mapping),
        owner=user,
    )
    ImportFile.objects.create(upload=upload, data=data)
    return upload


def too_big_message() -> str:
    return _("The file is larger than the limit of %(mb)s MB. Split it into smaller files.") % {
        "mb": settings.CRM_IMPORT_MAX_MB
    }


def default_match(record_type: RecordType, header: list[str], mapping: dict) -> str:
    """Contacts by address; others by our own export's "id" column when there is one, and
    companies by domain; else none (every row a new record)."""
    if record_type.kind == "contact":
        return "email"
    mapped = set(mapping.values())
    if "id" in mapped and any(h == "id" for h in header):
        return "id"
    if record_type.kind == "company" and "domain" in mapped:
        return "domain"
    return ""


@transaction.atomic
def import_start(upload: Import) -> None:
    """Queue the import for a worker (its job runs once the mapping is saved)."""
    Import.objects.filter(pk=upload.pk).update(status=ImportStatus.QUEUED, error="")
    upload.status = ImportStatus.QUEUED
    jobs.later(jobs.IMPORT_RUN, upload.pk)


def can_resume(upload: Import) -> bool:
    if upload.status == ImportStatus.FAILED:
        return True
    stalled = timezone.now() - upload.updated_at > STALLED_AFTER
    return upload.active and stalled


def import_for(user: User, pk: int) -> Import:
    """An import its maker or an admin may open; 404 for anyone else."""
    upload = Import.objects.filter(pk=pk).select_related("created_by", "owner").first()
    if upload is None or not (user.is_staff or upload.created_by_id == user.pk):
        raise Http404("No such import")
    if not can_import(user):
        raise PermissionDenied(_("A View-only seat cannot import records."))
    return upload


def imports_for(user: User):
    qs = Import.objects.select_related("created_by")
    return qs if user.is_staff else qs.filter(created_by=user)


def rejections_csv(upload: Import) -> str:
    """The refused rows as they were in the file, with the reason in a last column, in the
    file's own separator: fix them and import this file again."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=upload.delimiter)
    writer.writerow([*upload.header, _("Import error")])
    for values, reason in upload.rejections.order_by("line").values_list("values", "reason"):
        padded = list(values) + [""] * (len(upload.header) - len(values))
        writer.writerow([*padded, reason])
    return out.getvalue()


def option_lines(upload: Import) -> list[str]:
    """What the apps above were asked to do with the imported records, a line each."""
    return [
        option.describe(choice)
        for key, choice in upload.options.items()
        if (option := import_option(key)) is not None
    ]
