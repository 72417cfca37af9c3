"""contact_import: contacts imported per second from a 100,000-row CSV file through the worker.

value: the import's job (records/imports/runner.py, the function the Celery task `records.
import_run` calls) run in this process as a worker runs it, from queued to done: the file read
and checked, each row's address matched against existing contacts, the contacts, their
addresses and the import's counters written in batches with binary COPY. The file's contacts
are new (the previous run's are deleted first), the database holds the other benches' data.
ref: PostgreSQL's own COPY of the same file (FORMAT csv) into a bare table with the same
columns and no index, in the same run. target: value/ref >= 0.1.

Floor (context): the same rows put into the contact tables by PostgreSQL alone, from the bare
table, in one transaction with their constraints checked at once and then rolled back: the
records (their trigram-indexed search text), the contacts and their addresses, with no Python,
no file reading and no checks. What it takes is about the least any import that stores
contacts as the product does can take on this machine.
"""

import os
import time

from .common import bench_line

NAME = "contact_import"
ROWS = 100_000
DOMAIN = "import-bench.example"
USER = "import-bench"
TARGET = 0.1
FILE_NAME = "contact-import-bench.csv"
STAGES = ("Lead", "Subscriber", "Customer", "Opportunity")


def _file() -> bytes:
    lines = ["Email,First Name,Last Name,Phone Number,Job Title,Lifecycle Stage"]
    lines += [
        f"Person.{n}@{DOMAIN},First{n},Last{n % 977},+44 20 7946 {n:04d},Engineer,{STAGES[n % 4]}"
        for n in range(ROWS)
    ]
    return ("\n".join(lines) + "\n").encode()


def _clear() -> None:
    """The previous run's contacts, straight in SQL (nothing else points at them)."""
    from django.db import connection, transaction

    from records.imports.models import Import

    pattern = f"%@{DOMAIN}"
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE gone ON COMMIT DROP AS SELECT contact_id FROM "
            "records_contactemail WHERE address LIKE %s",
            [pattern],
        )
        cursor.execute(
            "DELETE FROM records_contactemail WHERE contact_id IN (SELECT contact_id FROM gone)"
        )
        cursor.execute(
            "DELETE FROM records_contact WHERE record_ptr_id IN (SELECT contact_id FROM gone)"
        )
        cursor.execute("DELETE FROM records_record WHERE id IN (SELECT contact_id FROM gone)")
    Import.objects.filter(file_name=FILE_NAME).delete()  # with its file and refused rows


def _copy_bare_and_floor(data: bytes) -> tuple[float, float]:
    """(seconds for COPY into a bare table, seconds for the floor's inserts from it)."""
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE import_bare (email text, first_name text, last_name text, "
            "phone text, job_title text, lifecycle_stage text) ON COMMIT DROP"
        )
        started = time.perf_counter()
        with cursor.cursor.copy("COPY import_bare FROM STDIN (FORMAT csv, HEADER)") as copy:
            copy.write(data)
        elapsed = time.perf_counter() - started
        cursor.execute("SELECT count(*) FROM import_bare")
        assert cursor.fetchone()[0] == ROWS
        floor = _floor(cursor)
    return elapsed, floor


def _floor(cursor) -> float:
    """The floor's inserts (see above), undone; their seconds. Its addresses are not the
    import's (in the database now): a prefix makes them new."""
    from django.db import transaction

    from records.models import Contact, ContactEmail, Record

    record, contact, email = (m._meta.db_table for m in (Record, Contact, ContactEmail))
    with transaction.atomic():
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        started = time.perf_counter()
        cursor.execute(
            "CREATE TEMP TABLE import_floor ON COMMIT DROP AS SELECT first_name, last_name, "
            "'floor.' || email AS email, phone, job_title, lifecycle_stage, nextval("
            f"pg_get_serial_sequence('{record}', 'id')) AS id FROM import_bare"
        )
        cursor.execute(
            f"INSERT INTO {record} (id, kind, name, properties, search_text, created_at, "
            "updated_at) OVERRIDING SYSTEM VALUE SELECT id, 'contact', first_name || ' ' || "
            "last_name, '{}', lower(concat_ws(' ', first_name, last_name, email, phone, "
            "job_title)), now(), now() FROM import_floor"
        )
        cursor.execute(
            f"INSERT INTO {contact} (record_ptr_id, first_name, last_name, email, phone, "
            "job_title, lifecycle_stage) SELECT id, first_name, last_name, lower(email), phone, "
            "job_title, lower(lifecycle_stage) FROM import_floor"
        )
        cursor.execute(
            f"INSERT INTO {email} (address, is_primary, contact_id) "
            "SELECT lower(email), true, id FROM import_floor"
        )
        elapsed = time.perf_counter() - started
        transaction.set_rollback(True)
    return elapsed


def run() -> bool:
    from records.constants import RecordAccess, Seat
    from records.imports import services
    from records.imports.models import Import
    from records.models import Contact, User
    from records.tasks import import_run
    from records.types import get_record_type

    user, _created = User.objects.get_or_create(
        username=USER,
        defaults={"seat": Seat.SALES, "record_access": RecordAccess.ALL, "is_staff": True},
    )
    _clear()
    data = _file()
    print(
        f"file: {ROWS:,} rows, {len(data) / 1e6:.1f} MB; "
        f"contacts in the database: {Contact.objects.count():,}"
    )
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    started = time.perf_counter()
    upload = services.import_create(user, get_record_type("contacts"), FILE_NAME, data)
    services.import_start(upload)
    import_run(upload.pk)
    elapsed = time.perf_counter() - started
    upload = Import.objects.get(pk=upload.pk)
    ok = (upload.status, upload.created, upload.failed) == ("done", ROWS, 0)
    if not ok:
        print(
            f"FAIL {NAME}: {upload.status}, created {upload.created}, "
            f"failed {upload.failed} {upload.error}"
        )
    imported = Contact.objects.filter(email__endswith=f"@{DOMAIN}").count()
    ok = ok and imported == ROWS
    copy_seconds, floor_seconds = _copy_bare_and_floor(data)
    value, ref = ROWS / elapsed, ROWS / copy_seconds
    print(
        f"import: {elapsed:.2f} s ({value:,.0f} contacts/s); "
        f"bare COPY: {copy_seconds:.2f} s ({ref:,.0f} rows/s)"
    )
    print(
        f"floor (PostgreSQL alone into the contact tables): {floor_seconds:.2f} s "
        f"({ROWS / floor_seconds:,.0f} rows/s) = {copy_seconds / floor_seconds:.3f} of the bare "
        f"COPY; the import: {floor_seconds / elapsed:.2f} of the floor"
    )
    ratio = value / ref
    print(f"value/ref = {ratio:.3f}; target >= {TARGET}: {'met' if ratio >= TARGET else 'MISSED'}")
    print(f"machine: load average {os.getloadavg()[0]:.1f} at the end")
    print(bench_line(NAME, value, "contacts/s", ref, f">={TARGET}x ref"))
    return ok
