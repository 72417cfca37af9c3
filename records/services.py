"""Writes that keep the records app's invariants: search digests, primary addresses and
two-way associations; notes and tasks go on timelines through records.timeline."""

from collections.abc import Iterable

from django.db import transaction

from . import timeline
from .constants import ActivityKind, RecordKind, TaskStatus
from .models import Activity, Association, Contact, ContactEmail, Record, User


def search_text_for(record: Record, emails: Iterable[str] = ()) -> str:
    """Build the lowercased text one LIKE searches: name, addresses and a few identifiers."""
    parts = [record.name]
    parts += list(emails)
    for attr in ("phone", "domain", "job_title"):
        value = getattr(record, attr, "")
        if value:
            parts.append(value)
    return " ".join(p for p in parts if p).lower()


def contact_display_name(first: str, last: str, email: str) -> str:
    return f"{first} {last}".strip() or email or "(no name)"


@transaction.atomic
def contact_save(contact: Contact, emails: list[str]) -> Contact:
    """Save a contact with its addresses; the first address is primary.

    Addresses are lowercased and de-duplicated; the contact's `email` mirrors the primary one.
    """
    clean: list[str] = []
    for address in emails:
        address = address.strip().lower()
        if address and address not in clean:
            clean.append(address)
    contact.kind = RecordKind.CONTACT
    contact.email = clean[0] if clean else ""
    contact.name = contact_display_name(contact.first_name, contact.last_name, contact.email)
    contact.search_text = search_text_for(contact, clean)
    contact.save()
    existing = {e.address: e for e in contact.emails.all()}
    ContactEmail.objects.filter(contact=contact).exclude(address__in=clean).delete()
    # Clear the old primary first: the partial unique index allows one primary per contact.
    ContactEmail.objects.filter(contact=contact, is_primary=True).exclude(
        address=contact.email
    ).update(is_primary=False)
    for position, address in enumerate(clean):
        row = existing.get(address)
        if row is None:
            ContactEmail.objects.create(contact=contact, address=address, is_primary=position == 0)
        elif row.is_primary != (position == 0):
            row.is_primary = position == 0
            row.save(update_fields=["is_primary"])
    return contact


def record_save(record: Record) -> Record:
    """Save any non-contact record, refreshing its search digest."""
    record.search_text = search_text_for(record)
    record.save()
    return record


@transaction.atomic
def association_create(a: Record, b: Record) -> None:
    """Associate two records (both directions); associating twice is harmless."""
    if a.pk == b.pk:
        raise ValueError("A record cannot be associated with itself.")
    for src, dst in ((a, b), (b, a)):
        Association.objects.get_or_create(from_record_id=src.pk, to_record_id=dst.pk)


@transaction.atomic
def association_delete(a: Record, b: Record) -> None:
    Association.objects.filter(from_record_id=a.pk, to_record_id=b.pk).delete()
    Association.objects.filter(from_record_id=b.pk, to_record_id=a.pk).delete()


def note_create(user: User, record: Record, body: str) -> Activity:
    return timeline.log(ActivityKind.NOTE, [record], created_by=user, body=body.strip())


def task_create(
    user: User,
    record: Record,
    *,
    title: str,
    task_type: str,
    due_at=None,
    assigned_to: User | None = None,
    body: str = "",
) -> Activity:
    return timeline.log(
        ActivityKind.TASK,
        [record],
        created_by=user,
        title=title.strip(),
        task_type=task_type,
        due_at=due_at,
        assigned_to=assigned_to or user,
        status=TaskStatus.NOT_STARTED,
        body=body.strip(),
    )
