"""The worker's part of an import (`records.import_run`, records/tasks.py): the file read in
batches of BATCH rows, each batch's records, rejected rows, associations and counters written
in one transaction with the import's row locked, so a run that stops (a crash, a deploy, an
error) loses nothing and a resumed one starts at the first row not done; a second worker on
the same import finds the rows taken and stops."""

import itertools
import logging

from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from ..bulk import insert_rows
from ..models import Association, User
from ..types import get_record_type
from . import contacts, others
from .extensions import import_option
from .fields import fields_for
from .models import Import, ImportRejection, ImportStatus
from .parsing import decode, rows
from .reading import Owners, read_rows, resolve_links

log = logging.getLogger(__name__)

BATCH = 5000
# A batch whose addresses other writers keep taking meanwhile is tried this many times.
ATTEMPTS = 5


class Busy(Exception):
    """Another worker has moved the import on: this run stops."""


def run(import_id: int) -> None:
    """Import what is left of the file of import `import_id`; nothing when it is not queued
    or running (done, stopped, still being mapped)."""
    started = Import.objects.filter(
        pk=import_id, status__in=(ImportStatus.QUEUED, ImportStatus.RUNNING)
    ).update(status=ImportStatus.RUNNING, started_at=timezone.now(), error="")
    if not started:
        return
    upload = Import.objects.select_related("created_by", "file").get(pk=import_id)
    try:
        Batches(upload).run()
    except Busy:
        return
    except Exception as exc:
        log.exception("import %s stopped", import_id)
        Import.objects.filter(pk=import_id).update(
            status=ImportStatus.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000]
        )
        return
    Import.objects.filter(pk=import_id, status=ImportStatus.RUNNING).update(
        status=ImportStatus.DONE, finished_at=timezone.now()
    )


class Batches:
    def __init__(self, upload: Import):
        self.upload = upload
        self.user = upload.created_by or User(is_staff=True, record_access="all")
        self.record_type = get_record_type(upload.type_slug)
        by_key = {f.key: f for f in fields_for(self.record_type)}
        self.columns = {
            int(index): by_key[key] for index, key in upload.mapping.items() if key in by_key
        }
        self.owners = Owners.load(self.user)
        self.options = [
            (option, choice)
            for key, choice in upload.options.items()
            if (option := import_option(key)) is not None
        ]

    def run(self) -> None:
        text, _encoding = decode(bytes(self.upload.file.data))
        reader = rows(text, self.upload.delimiter)
        next(reader)  # the header
        done = self.upload.rows_done
        reader = itertools.islice(reader, done, None)
        while batch := list(itertools.islice(reader, BATCH)):
            self.commit(batch, done)
            done += len(batch)

    def commit(self, batch: list[list[str]], done: int) -> None:
        for attempt in range(ATTEMPTS):
            try:
                with transaction.atomic():
                    _commit_without_waiting()
                    locked = (
                        Import.objects.select_for_update().only("rows_done").get(pk=self.upload.pk)
                    )
                    if locked.rows_done != done:
                        raise Busy
                    self.write(batch, done)
                return
            except IntegrityError:
                if attempt == ATTEMPTS - 1:
                    raise
                log.info("import %s: rows %s+ met a concurrent writer; again", self.upload.pk, done)

    def write(self, batch: list[list[str]], done: int) -> None:
        now = timezone.now()
        width = len(self.upload.header)
        good, refused = read_rows(batch, done + 1, self.columns, width, self.owners)
        good = resolve_links(self.user, good, refused)
        if self.record_type.kind == "contact":
            result = contacts.write(self.upload, self.user, good, refused, now)
        else:
            result = others.write(self.upload, self.user, self.record_type, good, refused, now)
        _associate(result["links"], now)
        for option, choice in self.options:
            option.apply(choice, result["ids"], self.user.pk)
        refused.sort(key=lambda item: item[0].line)
        insert_rows(
            ImportRejection,
            {
                "upload_id": [self.upload.pk] * len(refused),
                "line": [row.line for row, _reason in refused],
                "values": [row.raw for row, _reason in refused],
                "reason": [reason for _row, reason in refused],
            },
            now,
            keys=False,
        )
        Import.objects.filter(pk=self.upload.pk).update(
            rows_done=F("rows_done") + len(batch),
            created=F("created") + result["created"],
            updated=F("updated") + result["updated"],
            skipped=F("skipped") + result["skipped"],
            failed=F("failed") + len(refused),
            updated_at=now,
        )


def _commit_without_waiting() -> None:
    """On PostgreSQL, this batch's COMMIT does not wait for its WAL to reach the disk (a
    third of a batch's time here). A crash may then undo the last batches committed, whole:
    their records with the counters that count them, so a resumed run does them again."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


def _associate(pairs: list[tuple[int, int]], now) -> None:
    """Both directions of each pair, those not there already."""
    wanted = {(a, b) for a, b in pairs if a != b} | {(b, a) for a, b in pairs if a != b}
    if not wanted:
        return
    there = set(
        Association.objects.filter(
            from_record_id__in={a for a, _b in wanted}, to_record_id__in={b for _a, b in wanted}
        ).values_list("from_record_id", "to_record_id")
    )
    fresh = sorted(wanted - there)
    insert_rows(
        Association,
        {"from_record_id": [a for a, _b in fresh], "to_record_id": [b for _a, b in fresh]},
        now,
        keys=False,
    )
