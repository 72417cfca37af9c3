"""From a batch of raw rows to values keyed by field, with what each row links to resolved,
or the row refused with its reason."""

from dataclasses import dataclass, field

from django.db.models import Q
from django.db.models.functions import Lower
from django.utils.translation import gettext as _

from ..access import visible_to
from ..models import Company, Contact, User
from ..selectors import contacts_by_address
from .fields import Field, RowRefused


@dataclass
class Row:
    line: int  # among the data rows, from 1
    raw: list[str]
    values: dict = field(default_factory=dict)  # field key -> value; empty cells left out


@dataclass
class Owners:
    """Who an owner cell names: a user's id, username, email or (unique) display name."""

    user: User  # who runs the import
    by_name: dict[str, int]

    @classmethod
    def load(cls, user: User) -> "Owners":
        names: dict[str, int] = {}
        display: dict[str, list[int]] = {}
        for person in User.objects.filter(is_active=True):
            names[str(person.pk)] = person.pk
            names[person.username.casefold()] = person.pk
            if person.email:
                names.setdefault(person.email.casefold(), person.pk)
            display.setdefault(person.display_name.casefold(), []).append(person.pk)
        for name, ids in display.items():
            if len(ids) == 1:
                names.setdefault(name, ids[0])
        return cls(user, names)

    def resolve(self, raw: str) -> int:
        owner_id = self.by_name.get(raw.strip().casefold())
        if owner_id is None:
            raise RowRefused(_("Unknown owner “%(owner)s”.") % {"owner": raw})
        if not self.user.is_staff and owner_id != self.user.pk:
            raise RowRefused(
                _("You can import only records you own, not records of “%(owner)s”.")
                % {"owner": raw}
            )
        return owner_id


def read_rows(
    raw_rows: list[list[str]], first_line: int, columns: dict[int, Field], width: int, owners
) -> tuple[list[Row], list[tuple[Row, str]]]:
    """Each row's values, or the row and why it is refused."""
    good, refused = [], []
    for offset, raw in enumerate(raw_rows):
        row = Row(first_line + offset, raw)
        if len(raw) > width:
            reason = _("This row has %(n)s values; the header has %(width)s columns.") % {
                "n": len(raw),
                "width": width,
            }
            refused.append((row, reason))
            continue
        try:
            for index, target in columns.items():
                if index < len(raw):
                    value = target.read(raw[index])
                    if value is not None and target.kind == "owner":
                        value = owners.resolve(value)
                    if value is not None:
                        _put(row.values, target.key, value)
        except RowRefused as refusal:
            refused.append((row, str(refusal)))
            continue
        good.append(row)
    return good, refused


def _put(values: dict, key: str, value) -> None:
    if key == "other_emails":
        values.setdefault(key, []).extend(value)
    else:
        values[key] = value


def resolve_links(user: User, rows: list[Row], refused: list) -> list[Row]:
    """Put the id of the company ("company": a name or a domain) and of the contact
    ("contact": an address) each row names, among the records `user` sees, in
    `values["company_id"]` / `values["contact_id"]`; a row naming one that is not found is
    refused. Answers the rows kept."""
    companies = {r.values["company"] for r in rows if "company" in r.values}
    contacts = {r.values["contact"].lower() for r in rows if "contact" in r.values}
    company_ids = _companies_named(user, companies) if companies else {}
    contact_ids = _contacts_with(user, contacts) if contacts else {}
    kept = []
    for row in rows:
        if "company" in row.values:
            name = row.values["company"].casefold()
            found = company_ids.get(name) or company_ids.get(name.removeprefix("www."))
            if found is None:
                refused.append(
                    (row, _("No company “%(company)s” found.") % {"company": row.values["company"]})
                )
                continue
            row.values["company_id"] = found
        if "contact" in row.values:
            found = contact_ids.get(row.values["contact"].lower())
            if found is None:
                refused.append(
                    (
                        row,
                        _("No contact with the address “%(a)s” found.")
                        % {"a": row.values["contact"]},
                    )
                )
                continue
            row.values["contact_id"] = found
        kept.append(row)
    return kept


def _companies_named(user: User, names: set[str]) -> dict[str, int]:
    """Casefolded name or domain -> the id of the oldest company with it."""
    wanted = {n.casefold() for n in names} | {n.casefold().removeprefix("www.") for n in names}
    found: dict[str, int] = {}
    matches = (
        visible_to(user, Company.objects.all())
        .annotate(lname=Lower("name"), ldomain=Lower("domain"))
        .filter(Q(lname__in=wanted) | Q(ldomain__in=wanted))
        .order_by("-pk")
        .values_list("lname", "ldomain", "pk")
    )
    for lname, ldomain, pk in matches:  # the oldest last, so it wins
        found[lname] = pk
        if ldomain:
            found[ldomain] = pk
    return found


def _contacts_with(user: User, addresses: set[str]) -> dict[str, int]:
    owners = contacts_by_address(addresses)
    seen = set(
        visible_to(user, Contact.objects.filter(pk__in=set(owners.values()))).values_list(
            "pk", flat=True
        )
    )
    return {a: c for a, c in owners.items() if c in seen}
