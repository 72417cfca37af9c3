"""sequence_tick: due sequence email steps turned into queued emails per second.

100,000 active enrollments over 200 inboxes, 10,000 of them with an email step due. value: the
tick (sequences/engine/tick.py) in this process, from the first claim to the last email
queued: tokens rendered, the privacy check, the email written through the enqueue service
(activity, thread, message with its MIME, tracking, outbound row), the step's StepRun, history
line and next due time. ref: the same rows (those of the emails the tick wrote: thread,
activity and its link, message, its contact link, outbound) written straight with executemany
in batches of 1,000, in the same run. target: value/ref >= 0.25.
"""

import time

from .common import bench_line, ensure_dataset

NAME = "sequence_tick"
ENROLLMENTS, INBOXES, DUE = 100_000, 200, 10_000
SIGNATURE = f"v1 {ENROLLMENTS}/{INBOXES}/{DUE}"
DOMAIN = "seq-bench.example"
OWNER = "seq-bench-owner"
CHUNK = 10_000
BATCH = 1_000


def _fill() -> None:
    from datetime import timedelta

    from django.utils import timezone

    from mailboxes.constants import MailboxKind, MailboxStatus
    from mailboxes.models import Mailbox
    from records.bulk import insert_rows
    from records.constants import RecordAccess, Seat
    from records.models import User
    from records.services import contacts_for_addresses
    from sequences.constants import StepKind
    from sequences.models import Enrollment, Sequence, Step

    owner = User.objects.create(
        username=OWNER, first_name="Sam", seat=Seat.SALES, record_access=RecordAccess.ALL
    )
    inboxes = Mailbox.objects.bulk_create(
        Mailbox(
            kind=MailboxKind.PERSONAL,
            provider="imap",
            email=f"rep{n}@{DOMAIN}",
            owner=owner,
            status=MailboxStatus.CONNECTED,
            config={"imap_host": "127.0.0.1", "imap_port": 1, "smtp_host": "127.0.0.1"},
        )
        for n in range(INBOXES)
    )
    sequence = Sequence.objects.create(name="Bench", owner=owner, business_days_only=False)
    body = "<p>Hi {{ contact.first_name }},</p><p>" + "A line of the pitch. " * 30 + "</p>"
    Step.objects.bulk_create(
        Step(
            sequence=sequence,
            position=n,
            kind=StepKind.AUTO_EMAIL,
            subject="Hello {{ contact.first_name }}",
            body=body,
            delay_days=2,
        )
        for n in range(3)
    )
    later = timezone.now() + timedelta(days=3650)
    for start in range(0, ENROLLMENTS, CHUNK):
        people = {f"c{n}@{DOMAIN}": (f"Client{n}", "Bench") for n in range(start, start + CHUNK)}
        ids = contacts_for_addresses(people, owner.pk)
        contact_ids = [ids[a] for a in people]
        insert_rows(
            Enrollment,
            {
                "sequence_id": [sequence.pk] * CHUNK,
                "contact_id": contact_ids,
                "enrolled_by_id": [owner.pk] * CHUNK,
                "mailbox_id": [inboxes[n % INBOXES].pk for n in range(CHUNK)],
                "from_address": [inboxes[n % INBOXES].email for n in range(CHUNK)],
                "time_zone": ["Europe/Rome"] * CHUNK,
                "due_at": [later] * CHUNK,
                "overrides": [{}] * CHUNK,
            },
            timezone.now(),
            keys=False,
        )


def _verify() -> bool:
    from sequences.models import Enrollment

    return Enrollment.objects.filter(sequence__name="Bench").count() == ENROLLMENTS


def _remove_emails() -> None:
    """The emails the tick queued (and their threads, activities and send counters). Left
    queued, they would be due in every worker's send pass: send_throughput's, run after this
    bench on the same database, would claim them (their inboxes cannot send) beside its own."""
    from mailboxes.models import EmailMessage, EmailThread, SendCounter
    from records.models import Activity

    messages = EmailMessage.objects.filter(mailbox__email__endswith=DOMAIN)
    threads = set(messages.values_list("thread_id", flat=True))
    activities = set(messages.values_list("activity_id", flat=True))
    messages.delete()
    EmailThread.objects.filter(pk__in=threads).delete()
    Activity.objects.filter(pk__in=activities).delete()
    SendCounter.objects.filter(mailbox__email__endswith=DOMAIN).delete()


def _reset() -> list[int]:
    """Make the same DUE enrollments due again at step 1, and remove what earlier runs wrote."""
    from datetime import timedelta

    from django.db import transaction
    from django.utils import timezone

    from sequences.constants import EnrollmentStatus
    from sequences.models import Enrollment, EnrollmentEvent, StepRun

    enrollments = Enrollment.objects.filter(sequence__name="Bench")
    due = list(enrollments.order_by("pk").values_list("pk", flat=True)[:: ENROLLMENTS // DUE])
    with transaction.atomic():
        StepRun.objects.filter(enrollment__in=due).delete()
        EnrollmentEvent.objects.filter(enrollment__in=due).delete()
        _remove_emails()
        enrollments.update(
            status=EnrollmentStatus.ACTIVE,
            next_position=0,
            due_at=timezone.now() + timedelta(days=3650),
            last_email=None,
            thread=None,
            end_reason="",
            ended_at=None,
        )
        enrollments.filter(pk__in=due).update(due_at=timezone.now() - timedelta(minutes=1))
    return due


def _straight(models_rows: list[tuple]) -> None:
    """INSERT each model's rows (model instances, keys given) with executemany."""
    from django.db import connection

    with connection.cursor() as cursor:
        for model, objs in models_rows:
            fields = [f for f in model._meta.concrete_fields]
            table = connection.ops.quote_name(model._meta.db_table)
            names = ", ".join(connection.ops.quote_name(f.column) for f in fields)
            marks = ", ".join(["%s"] * len(fields))
            rows = [
                [f.get_db_prep_save(getattr(obj, f.attname), connection) for f in fields]
                for obj in objs
            ]
            cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)


def _next_ids(model, count: int) -> list[int]:
    from django.db import connection

    table = model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [table, count],
        )
        return [row[0] for row in cursor.fetchall()]


def ref_rate() -> float:
    """Emails a second written straight: copies of the rows the tick wrote, in batches of
    BATCH, each batch one transaction; rolled back at the end."""
    from django.db import transaction

    from mailboxes.models import EmailMessage, EmailThread, Outbound
    from records.models import Activity, ActivityLink

    messages = list(EmailMessage.objects.filter(mailbox__email__endswith=DOMAIN).order_by("pk"))
    outbounds = {o.message_id: o for o in Outbound.objects.filter(message__in=messages)}
    threads = EmailThread.objects.in_bulk({m.thread_id for m in messages})
    activities = Activity.objects.in_bulk({m.activity_id for m in messages})
    links = {
        link.activity_id: link for link in ActivityLink.objects.filter(activity__in=activities)
    }
    through = EmailMessage.contacts.through
    contact_links = {
        c.emailmessage_id: c for c in through.objects.filter(emailmessage__in=messages)
    }
    started = time.perf_counter()
    with transaction.atomic():
        for start in range(0, len(messages), BATCH):
            batch = messages[start : start + BATCH]
            n = len(batch)
            ids = {
                m: _next_ids(m, n)
                for m in (EmailThread, Activity, ActivityLink, EmailMessage, Outbound, through)
            }
            rows = {m: [] for m in ids}
            for i, message in enumerate(batch):
                thread = threads[message.thread_id]
                thread.pk = ids[EmailThread][i]
                activity = activities[message.activity_id]
                link = links[activity.pk]
                activity.pk = ids[Activity][i]
                link.pk, link.activity_id = ids[ActivityLink][i], activity.pk
                outbound = outbounds[message.pk]
                contact = contact_links[message.pk]
                message.pk, message.thread_id, message.activity_id = (
                    ids[EmailMessage][i],
                    thread.pk,
                    activity.pk,
                )
                message.message_id = f"ref-{message.message_id}"
                outbound.pk, outbound.message_id = ids[Outbound][i], message.pk
                contact.pk, contact.emailmessage_id = ids[through][i], message.pk
                for model, obj in (
                    (EmailThread, thread),
                    (Activity, activity),
                    (ActivityLink, link),
                    (EmailMessage, message),
                    (Outbound, outbound),
                    (through, contact),
                ):
                    rows[model].append(obj)
            _straight(list(rows.items()))
        elapsed = time.perf_counter() - started
        transaction.set_rollback(True)
    return len(messages) / elapsed


def run() -> bool:
    from sequences.engine.tick import tick

    ensure_dataset(NAME, SIGNATURE, _fill, _verify)
    due = _reset()
    print(f"enrollments: {ENROLLMENTS:,} over {INBOXES} inboxes, {len(due):,} with an email due")
    started = time.perf_counter()
    outcomes = tick(seconds=3600)
    elapsed = time.perf_counter() - started
    queued = outcomes.get("email", 0)
    print(f"tick: {dict(outcomes)} in {elapsed:.1f} s")
    try:
        if queued != len(due):
            print(f"FAIL the tick queued {queued} emails for {len(due)} due steps")
            return False
        value = queued / elapsed
        ref = ref_rate()  # copies the rows the tick wrote
    finally:
        _remove_emails()
    ratio = value / ref
    verdict = "met" if ratio >= 0.25 else "MISSED"
    print(f"value/ref = {ratio:.3f} (target >= 0.25: {verdict})")
    print(bench_line(NAME, value, "emails/s", ref, "value/ref>=0.25"))
    return True
