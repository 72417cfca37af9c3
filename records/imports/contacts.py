"""A batch of contact rows into the database: each row matched to the contact that has one of
its addresses (any case), else a new contact; in bulk, a few statements a batch.

Nothing makes a second contact for an address in use: the addresses are read in the batch's
transaction and the new ones inserted into the unique index on lowercased addresses, so an
address another writer gave a contact meanwhile makes the batch fail with IntegrityError,
and the caller runs it again (it then finds that contact).
"""

from types import SimpleNamespace

from django.utils.translation import gettext as _

from ..access import visible_to
from ..bulk import insert_rows, update_rows
from ..constants import LifecycleStage, RecordKind
from ..models import Contact, ContactEmail, Record
from ..selectors import contacts_by_address
from ..services import NO_NAME, contact_display_name, search_text_for
from .models import OnExisting
from .reading import Row

CONTACT_FIELDS = ("first_name", "last_name", "phone", "job_title", "lifecycle_stage")


def _names(values: dict) -> None:
    """A full name alone split into first and last names (the contacts list exports one)."""
    full = values.pop("name", None)
    if full and "first_name" not in values and "last_name" not in values:
        # NO_NAME: what the CRM calls a contact without one (in English, or as translated
        # when it was exported).
        if full.lower() != values.get("email", "") and full not in (NO_NAME, _(NO_NAME)):
            first, _sep, last = full.partition(" ")
            values["first_name"], values["last_name"] = first[:100], last.strip()[:100]


def write(upload, user, rows: list[Row], refused: list, now) -> dict:
    """Create or update the contacts of `rows`; answer the counts and the ids touched."""
    for row in rows:
        _names(row.values)
        addresses = [row.values["email"]] if "email" in row.values else []
        row.values["addresses"] = list(
            dict.fromkeys(addresses + row.values.pop("other_emails", []))
        )
    kept = []
    for row in rows:
        if row.values["addresses"]:
            kept.append(row)
        else:
            refused.append((row, _("No email address.")))
    owners = contacts_by_address(a for row in kept for a in row.values["addresses"])
    visible = set(
        visible_to(user, Contact.objects.filter(pk__in=set(owners.values()))).values_list(
            "pk", flat=True
        )
    )
    # Address -> who has it: an existing contact's id, or a new contact's values (this batch).
    claims: dict[str, int | dict] = dict(owners)
    new: list[dict] = []
    updates: dict[int, dict] = {}  # existing contact id -> the values merged into it
    counts = {"created": 0, "updated": 0, "skipped": 0}
    for row in kept:
        addresses = row.values["addresses"]
        found = {}
        for address in addresses:
            claim = claims.get(address)
            if claim is not None:
                found[claim if isinstance(claim, int) else id(claim)] = claim
        if len(found) > 1:
            refused.append((row, _("Its addresses belong to more than one contact.")))
            continue
        if found:
            claim = next(iter(found.values()))
            if isinstance(claim, int) and claim not in visible:
                refused.append(
                    (row, _("The address belongs to a contact you don't have access to."))
                )
                continue
            if upload.on_existing == OnExisting.SKIP:
                counts["skipped"] += 1
                continue
            target = (
                updates.setdefault(claim, {"addresses": []}) if isinstance(claim, int) else claim
            )
            _merge(target, row.values)
            for address in addresses:
                claims.setdefault(address, claim)
            counts["updated"] += 1
            continue
        values = {**row.values, "owner_id": row.values.get("owner", upload.owner_id)}
        new.append(values)
        for address in addresses:
            claims[address] = values
        counts["created"] += 1
    created_ids = _insert(new, now)
    _update(updates, now)
    links = [
        (cid, v["company_id"]) for cid, v in zip(created_ids, new, strict=True) if "company_id" in v
    ]
    links += [(cid, v["company_id"]) for cid, v in updates.items() if "company_id" in v]
    return {**counts, "ids": created_ids + list(updates), "links": links}


def _merge(target: dict, values: dict) -> None:
    addresses = target.get("addresses", [])
    target.update({k: v for k, v in values.items() if k != "addresses"})
    target["addresses"] = list(dict.fromkeys(addresses + values["addresses"]))
    if "owner" in values:
        target["owner_id"] = values["owner"]


def _person(values: dict, email: str) -> SimpleNamespace:
    first, last = values.get("first_name", ""), values.get("last_name", "")
    person = SimpleNamespace(
        first_name=first,
        last_name=last,
        name=contact_display_name(first, last, email)[:255],
        phone=values.get("phone", ""),
        job_title=values.get("job_title", ""),
    )
    return person


def _insert(new: list[dict], now) -> list[int]:
    if not new:
        return []
    people = [_person(v, v["addresses"][0]) for v in new]
    ids = insert_rows(
        Record,
        {
            "kind": [RecordKind.CONTACT] * len(new),
            "name": [p.name for p in people],
            "owner_id": [v["owner_id"] for v in new],
            "search_text": [
                search_text_for(p, v["addresses"]) for p, v in zip(people, new, strict=True)
            ],
            "created_at": [now] * len(new),
        },
        now,
    )
    columns = {"record_ptr_id": ids, "email": [v["addresses"][0] for v in new]}
    for name in CONTACT_FIELDS:
        columns[name] = [
            v.get(name, LifecycleStage.LEAD if name == "lifecycle_stage" else "") for v in new
        ]
    insert_rows(Contact, columns, now, keys=False)
    _insert_addresses(
        [
            (cid, a, i == 0)
            for cid, v in zip(ids, new, strict=True)
            for i, a in enumerate(v["addresses"])
        ],
        now,
    )
    return ids


def _insert_addresses(rows: list[tuple[int, str, bool]], now) -> None:
    """ContactEmail rows of (contact id, address, is primary)."""
    insert_rows(
        ContactEmail,
        {
            "contact_id": [r[0] for r in rows],
            "address": [r[1] for r in rows],
            "is_primary": [r[2] for r in rows],
        },
        now,
        keys=False,
    )


def _update(updates: dict[int, dict], now) -> None:
    if not updates:
        return
    contacts = list(Contact.objects.filter(pk__in=updates))
    known: dict[int, list[str]] = {}
    for contact_id, address in ContactEmail.objects.filter(contact_id__in=updates).values_list(
        "contact_id", "address"
    ):
        known.setdefault(contact_id, []).append(address.lower())
    added = []
    for contact in contacts:
        values = updates[contact.pk]
        for name in CONTACT_FIELDS:
            if name in values:
                setattr(contact, name, values[name])
        if "owner_id" in values:
            contact.owner_id = values["owner_id"]
        have = known.get(contact.pk, [])
        fresh = [a for a in values["addresses"] if a not in have]
        added += [(contact.pk, a, not have and i == 0) for i, a in enumerate(fresh)]
        addresses = have + fresh
        if not contact.email and addresses:
            contact.email = addresses[0]
        contact.name = contact_display_name(contact.first_name, contact.last_name, contact.email)[
            :255
        ]
        contact.search_text = search_text_for(contact, addresses)
        contact.updated_at = now
    update_rows(contacts, list(CONTACT_FIELDS) + ["email"])
    update_rows(
        [
            Record(
                pk=c.pk, name=c.name, owner_id=c.owner_id, search_text=c.search_text, updated_at=now
            )
            for c in contacts
        ],
        ["name", "owner", "search_text", "updated_at"],
    )
    _insert_addresses(added, now)
