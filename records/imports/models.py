"""CSV imports (imported by records.models so Django finds them; they name records' models by
label, as importing them back would be a cycle).

An `Import` is the audit line of one upload (who, when, the file's name, its counts) and the
state of its run: the worker goes through the file in batches, and each batch's records, its
rejected rows and the import's counters (`rows_done` among them) commit together, so a run
that stops loses nothing and a resumed one starts at the first row not done.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ImportStatus(models.TextChoices):
    DRAFT = "draft", _("Mapping columns")
    QUEUED = "queued", _("Waiting for a worker")
    RUNNING = "running", _("Importing")
    DONE = "done", _("Done")
    FAILED = "failed", _("Stopped")


class OnExisting(models.TextChoices):
    UPDATE = "update", _("Update existing records")
    SKIP = "skip", _("Skip existing records")


class Import(models.Model):
    type_slug = models.SlugField(max_length=60)  # contacts, companies, deals, tickets, a custom
    file_name = models.CharField(max_length=255)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=10, choices=ImportStatus.choices)
    # What the file is: "," or ";", its encoding, its header and number of data rows.
    delimiter = models.CharField(max_length=1)
    encoding = models.CharField(max_length=20)
    header = models.JSONField(default=list)
    total = models.PositiveIntegerField(default=0)
    # The choices made on the mapping page: column index (as text) -> field key or "".
    mapping = models.JSONField(default=dict)
    match_on = models.CharField(max_length=80, blank=True)  # the field key matched on
    on_existing = models.CharField(
        max_length=10, choices=OnExisting.choices, default=OnExisting.UPDATE
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # What the apps above asked on the page (records/imports/extensions.py), by their key.
    options = models.JSONField(default=dict, blank=True)
    # The run: rows read so far and what became of them.
    rows_done = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)  # why a run stopped
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["created_by", "-created_at"], name="import_by_user")]

    def __str__(self):
        return f"{self.file_name} ({self.type_slug})"

    @property
    def percent(self) -> int:
        return int(100 * self.rows_done / self.total) if self.total else 100

    @property
    def active(self) -> bool:
        return self.status in (ImportStatus.QUEUED, ImportStatus.RUNNING)


class ImportFile(models.Model):
    """The uploaded bytes, kept in the database so a worker on any host reads them."""

    upload = models.OneToOneField(Import, on_delete=models.CASCADE, related_name="file")
    data = models.BinaryField()

    def __str__(self):
        return f"file of import {self.upload_id}"


class ImportRejection(models.Model):
    """A row the import refused: the row as it was in the file and why."""

    upload = models.ForeignKey(Import, on_delete=models.CASCADE, related_name="rejections")
    line = models.PositiveIntegerField()  # the row's number among the data rows, from 1
    values = models.JSONField(default=list)
    reason = models.TextField()

    class Meta:
        ordering = ["upload", "line"]
        indexes = [models.Index(fields=["upload", "line"], name="import_rejection_line")]

    def __str__(self):
        return f"row {self.line} of import {self.upload_id}: {self.reason}"
