"""A 100,000-row contact file through the worker's task function on PostgreSQL, in batches
with bulk COPY: every row a contact with its address, in well under a minute."""

import time

from records.models import Contact, ContactEmail

from .support import run_import

ROWS = 100_000


def test_a_hundred_thousand_contacts_import_in_batches(owner, postgresql):
    lines = [b"Email,First Name,Last Name,Phone,Lifecycle Stage"]
    lines += [b"p%d@bulk.example,First%d,Last%d,+1 555 %d,Lead" % (n, n, n, n) for n in range(ROWS)]
    started = time.monotonic()
    upload = run_import(owner, "contacts", b"\n".join(lines) + b"\n", name="big.csv")
    elapsed = time.monotonic() - started
    assert (upload.status, upload.rows_done, upload.created, upload.failed) == (
        "done",
        ROWS,
        ROWS,
        0,
    )
    assert Contact.objects.filter(email__endswith="@bulk.example").count() == ROWS
    assert ContactEmail.objects.filter(address__endswith="@bulk.example").count() == ROWS
    assert Contact.objects.get(email="p54321@bulk.example").name == "First54321 Last54321"
    assert elapsed < 60, f"{elapsed:.1f} s"
