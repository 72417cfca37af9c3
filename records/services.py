"""Writes that keep the records app's invariants: search digests, primary addresses and
two-way associations; notes and tasks go on timelines through records.timeline."""

from collections.abc import Iterable

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from . import selectors, signals, timeline
from .bulk import insert_rows
from .constants import ActivityKind, MeetingOutcome, RecordKind, TaskStatus
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


# What a contact with neither a name nor an address is called (the import reads it back).
NO_NAME = gettext_noop("(no name)")


def contact_display_name(first: str, last: str, email: str) -> str:
    return f"{first} {last}".strip() or email or _(NO_NAME)


class AddressInUse(Exception):
    """An address given to a contact already belongs to another contact.

    Carries the address and the other contact's id for the caller to word the refusal for
    its user: only a user who may see that contact may learn anything about it.
    """

    def __init__(self, address: str, contact_id: int):
        super().__init__(f"{address} already belongs to contact {contact_id}")
        self.address = address
        self.contact_id = contact_id


def clean_addresses(emails: Iterable[str]) -> list[str]:
    """Addresses as a contact stores them: stripped, lowercased, each once, in order."""
    clean: list[str] = []
    for address in emails:
        address = address.strip().lower()
        if address and address not in clean:
            clean.append(address)
    return clean


def addresses_in_use(emails: Iterable[str], contact: Contact | None = None) -> dict[str, int]:
    """Which of `emails` belong to a contact other than `contact`: address -> its contact id."""
    owners = selectors.contacts_by_address(emails)
    return {a: c for a, c in owners.items() if contact is None or c != contact.pk}


@transaction.atomic
def contact_save(contact: Contact, emails: list[str]) -> Contact:
    """Save a contact with its addresses; the first address is primary.

    Addresses are lowercased and de-duplicated; the contact's `email` mirrors the primary one.
    An address can belong to one contact only: one that already belongs to another contact
    raises AddressInUse, and nothing is saved.
    """
    clean = clean_addresses(emails)
    taken = addresses_in_use(clean, contact if contact.pk else None)
    if taken:
        raise AddressInUse(*next(iter(taken.items())))
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
            _add_address(contact, address, primary=position == 0)
        elif row.is_primary != (position == 0):
            row.is_primary = position == 0
            row.save(update_fields=["is_primary"])
    return contact


def _add_address(contact: Contact, address: str, *, primary: bool) -> None:
    """Insert one address. Should another request have given it to another contact since
    contact_save checked, the unique index refuses it: AddressInUse, as if it had been seen."""
    try:
        with transaction.atomic():
            ContactEmail.objects.create(contact=contact, address=address, is_primary=primary)
    except IntegrityError:
        taken = addresses_in_use([address], contact)
        if not taken:
            raise
        raise AddressInUse(address, taken[address]) from None


@transaction.atomic
def contacts_for_addresses(
    people: dict[str, tuple[str, str]], owner_id: int | None
) -> dict[str, int]:
    """The contact of each address, created for those no contact has: address -> contact id.

    `people` maps lowercased addresses to (first name, last name); each new contact has one
    address, primary, and `owner_id` as owner. The contacts are inserted in bulk (a few
    statements whatever their number). Should another writer give one of the addresses a
    contact meanwhile, the unique index on addresses refuses the batch; the owners are read
    again and only the rest created, so an address still ends with one contact.
    """
    for _attempt in range(len(people) + 1):
        owners = selectors.contacts_by_address(people)
        missing = {a: name for a, name in people.items() if a not in owners}
        if not missing:
            return owners
        try:
            with transaction.atomic():
                return owners | _insert_contacts(missing, owner_id)
        except IntegrityError:
            continue  # read the owners again: each round leaves fewer to create
    raise IntegrityError("Addresses kept being taken while their contacts were created.")


def _insert_contacts(people: dict[str, tuple[str, str]], owner_id: int | None) -> dict[str, int]:
    now = timezone.now()
    contacts = [
        Contact(first_name=first[:100], last_name=last[:100], email=address, owner_id=owner_id)
        for address, (first, last) in people.items()
    ]
    for contact in contacts:
        contact.name = contact_display_name(contact.first_name, contact.last_name, contact.email)
        contact.search_text = search_text_for(contact, [contact.email])
    ids = insert_rows(
        Record,
        {
            "kind": [RecordKind.CONTACT] * len(contacts),
            "name": [c.name[:255] for c in contacts],
            "owner_id": [owner_id] * len(contacts),
            "search_text": [c.search_text for c in contacts],
            "created_at": [now] * len(contacts),
        },
        now,
    )
    insert_rows(
        Contact,
        {
            "record_ptr_id": ids,
            "first_name": [c.first_name for c in contacts],
            "last_name": [c.last_name for c in contacts],
            "email": [c.email for c in contacts],
        },
        now,
        keys=False,
    )
    insert_rows(
        ContactEmail,
        {
            "contact_id": ids,
            "address": [c.email for c in contacts],
            "is_primary": [True] * len(contacts),
        },
        now,
    )
    return dict(zip(people, ids, strict=True))


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


@transaction.atomic
def meeting_log(
    user: User,
    record: Record,
    *,
    title: str,
    starts_at,
    duration_minutes: int,
    outcome: str,
    attendees: Iterable[Contact] = (),
    body: str = "",
) -> Activity:
    """Log a meeting on `record` and on each attendee's timeline (a contact's own meeting has
    the contact as its attendee). Unless it was canceled, `meeting_booked` tells the apps
    above once this commits."""
    contacts = list(attendees)
    if record.kind == RecordKind.CONTACT:
        contacts.insert(0, record)
    activity = timeline.log(
        ActivityKind.MEETING,
        [record, *contacts],
        created_by=user,
        occurred_at=starts_at,
        title=title.strip(),
        duration_minutes=duration_minutes,
        meeting_outcome=outcome,
        body=body.strip(),
    )
    contact_ids = tuple(dict.fromkeys(c.pk for c in contacts))
    if contact_ids and outcome != MeetingOutcome.CANCELED:
        event = signals.MeetingBooked(activity.pk, contact_ids, starts_at)
        signals.send_on_commit(signals.meeting_booked, __name__, event)
    return activity
