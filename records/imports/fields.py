"""What a column can become in each record type, how a header is guessed, and how a cell is
read into a value (or refused with the reason written into the error file)."""

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import cached_property

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ..constants import DealStage, LifecycleStage, PropertyType, TicketPriority, TicketStatus
from ..types import RecordType

# A simple test of an address: a local part, an @ and a dotted domain, no spaces.
_ADDRESS = re.compile(r"[^@\s\"<>,;]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+")
_DOMAIN = re.compile(r"[a-z0-9-]+(\.[a-z0-9-]+)+")


class RowRefused(Exception):
    """A cell that cannot be stored: the reason goes into the error file."""


@dataclass(frozen=True)
class Field:
    key: str  # a model field, "prop:<key>", or one of: id, name, owner, company, contact
    label: str
    kind: str = "text"  # text, email, emails, choice, decimal, date, boolean, owner, id, link
    aliases: tuple[str, ...] = ()  # headers that map here, as `normalize` writes them
    max_length: int | None = None
    choices: tuple[tuple[str, str], ...] = ()
    matchable: bool = False  # may be the column existing records are matched on
    required: bool = False  # a new record needs a value (a custom type's required property)

    def read(self, raw: str):
        """The value to store for the cell `raw`, None for an empty cell, or RowRefused."""
        raw = raw.strip()
        if not raw:
            return None
        reader = getattr(self, f"_read_{self.kind}", None)
        value = reader(raw) if reader else raw
        if isinstance(value, str) and self.max_length and len(value) > self.max_length:
            raise RowRefused(
                _("%(field)s is longer than %(n)s characters.")
                % {"field": self.label, "n": self.max_length}
            )
        return value

    def _read_email(self, raw: str) -> str:
        if not _ADDRESS.fullmatch(raw):
            raise RowRefused(_("“%(value)s” is not a valid email address.") % {"value": raw})
        return raw.lower()

    def _read_emails(self, raw: str) -> list[str]:
        return [self._read_email(a) for a in re.split(r"[\s,;]+", raw) if a]

    @cached_property
    def _choice_of(self) -> dict[str, str]:
        """A choice by its value or its label, casefolded (read once per field, not per row)."""
        found = {str(label).casefold(): value for value, label in self.choices}
        return found | {value.casefold(): value for value, _label in self.choices}

    def _read_choice(self, raw: str) -> str:
        value = self._choice_of.get(raw.casefold())
        if value is not None:
            return value
        raise RowRefused(
            _("“%(value)s” is not one of the choices of %(field)s (%(choices)s).")
            % {
                "value": raw,
                "field": self.label,
                "choices": ", ".join(str(label) for _v, label in self.choices),
            }
        )

    def _read_decimal(self, raw: str) -> Decimal:
        text = raw.replace(" ", "").replace("\u00a0", "")
        if "," in text and "." not in text:
            text = text.replace(",", ".")  # a decimal comma
        try:
            value = Decimal(text.replace(",", ""))
        except InvalidOperation:
            raise RowRefused(
                _("%(field)s is not a number: “%(value)s”.") % {"field": self.label, "value": raw}
            ) from None
        if not value.is_finite() or abs(value) >= Decimal("1e12"):
            raise RowRefused(_("%(field)s is out of range.") % {"field": self.label})
        return value

    def _read_date(self, raw: str) -> date:
        for pattern in ("%Y-%m-%d", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"):
            try:
                return datetime.strptime(raw[:19].rstrip("Z"), pattern).date()
            except ValueError:
                continue
        raise RowRefused(
            _("%(field)s is not a date written YYYY-MM-DD: “%(value)s”.")
            % {"field": self.label, "value": raw}
        )

    def _read_boolean(self, raw: str) -> bool:
        value = raw.casefold()
        if value in ("true", "yes", "1", "y", "x"):
            return True
        if value in ("false", "no", "0", "n"):
            return False
        raise RowRefused(
            _("%(field)s is not yes or no: “%(value)s”.") % {"field": self.label, "value": raw}
        )

    def _read_id(self, raw: str) -> int:
        if not raw.isdigit():
            raise RowRefused(_("Record ID is not a number: “%(value)s”.") % {"value": raw})
        return int(raw)

    def _read_domain(self, raw: str) -> str:
        domain = re.sub(r"^https?://", "", raw.lower()).split("/")[0].removeprefix("www.")
        if not _DOMAIN.fullmatch(domain):
            raise RowRefused(_("“%(value)s” is not a domain such as example.com.") % {"value": raw})
        return domain


def normalize(header: str) -> str:
    """A header as the aliases are written: a trailing "(...)" (a currency) dropped, then
    lowercase letters and digits only: "E-mail" and "Email Address" -> "email", "emailaddress"."""
    header = re.sub(r"\s*\([^)]*\)\s*$", "", header.strip())
    return re.sub(r"[^a-z0-9]", "", header.lower())


def _f(key, label, kind="text", aliases=(), **kw) -> Field:
    return Field(key, label, kind, tuple(aliases), **kw)


_ID = _f("id", gettext_lazy("Record ID"), "id", ("id", "recordid", "hsobjectid"), matchable=True)
_OWNER = _f("owner", gettext_lazy("Owner"), "owner", ("owner", "hubspotownerid", "recordowner"))
_COMPANY = _f(
    "company",
    gettext_lazy("Company (name or domain)"),
    "link",
    ("company", "companyname", "associatedcompany", "organization", "organisation"),
)

FIELDS = {
    "contacts": (
        _f("name", gettext_lazy("Full name"), aliases=("name", "fullname"), max_length=201),
        _f(
            "first_name",
            gettext_lazy("First name"),
            aliases=("firstname", "givenname", "forename"),
            max_length=100,
        ),
        _f(
            "last_name",
            gettext_lazy("Last name"),
            aliases=("lastname", "surname", "familyname"),
            max_length=100,
        ),
        _f(
            "email",
            gettext_lazy("Email"),
            "email",
            ("email", "emailaddress", "mail", "primaryemail", "emailaddress1"),
            max_length=254,
        ),
        _f(
            "other_emails",
            gettext_lazy("Other email addresses"),
            "emails",
            (
                "hsadditionalemails",
                "additionalemailaddresses",
                "otheremails",
                "otheremailaddresses",
                "secondaryemail",
            ),
        ),
        _f(
            "phone",
            gettext_lazy("Phone"),
            aliases=(
                "phone",
                "phonenumber",
                "telephone",
                "tel",
                "mobile",
                "mobilephone",
                "mobilephonenumber",
            ),
            max_length=40,
        ),
        _f(
            "job_title",
            gettext_lazy("Job title"),
            aliases=("jobtitle", "title", "position", "role"),
            max_length=100,
        ),
        _f(
            "lifecycle_stage",
            gettext_lazy("Lifecycle stage"),
            "choice",
            ("lifecyclestage", "stage"),
            choices=tuple(LifecycleStage.choices),
        ),
        _f("owner", gettext_lazy("Owner"), "owner", _OWNER.aliases + ("contactowner",)),
        _COMPANY,
    ),
    "companies": (
        _ID,
        _f(
            "name",
            gettext_lazy("Name"),
            aliases=("name", "companyname", "company", "organization"),
            max_length=255,
            matchable=True,
        ),
        _f(
            "domain",
            gettext_lazy("Domain"),
            "domain",
            ("domain", "companydomainname", "website", "websiteurl", "url"),
            max_length=255,
            matchable=True,
        ),
        _f("industry", gettext_lazy("Industry"), aliases=("industry",), max_length=100),
        _f("city", gettext_lazy("City"), aliases=("city", "town"), max_length=100),
        _f(
            "phone",
            gettext_lazy("Phone"),
            aliases=("phone", "phonenumber", "telephone"),
            max_length=40,
        ),
        _f("owner", gettext_lazy("Owner"), "owner", _OWNER.aliases + ("companyowner",)),
    ),
    "deals": (
        _ID,
        _f(
            "name",
            gettext_lazy("Deal name"),
            aliases=("name", "dealname", "deal"),
            max_length=255,
            matchable=True,
        ),
        _f(
            "stage",
            gettext_lazy("Stage"),
            "choice",
            ("stage", "dealstage"),
            choices=tuple(DealStage.choices),
        ),
        _f("pipeline", gettext_lazy("Pipeline"), aliases=("pipeline",), max_length=60),
        _f("amount", gettext_lazy("Amount"), "decimal", ("amount", "value", "dealvalue")),
        _f("close_date", gettext_lazy("Close date"), "date", ("closedate", "expectedclosedate")),
        _f("owner", gettext_lazy("Owner"), "owner", _OWNER.aliases + ("dealowner",)),
        _f(
            "contact",
            gettext_lazy("Contact (email)"),
            "link",
            ("contact", "contactemail", "associatedcontact", "email"),
        ),
        _COMPANY,
    ),
    "tickets": (
        _ID,
        _f(
            "name",
            gettext_lazy("Ticket name"),
            aliases=("name", "ticketname", "subject"),
            max_length=255,
            matchable=True,
        ),
        _f(
            "status",
            gettext_lazy("Status"),
            "choice",
            ("status", "ticketstatus"),
            choices=tuple(TicketStatus.choices),
        ),
        _f(
            "priority",
            gettext_lazy("Priority"),
            "choice",
            ("priority",),
            choices=tuple(TicketPriority.choices),
        ),
        _f("pipeline", gettext_lazy("Pipeline"), aliases=("pipeline",), max_length=60),
        _f(
            "description",
            gettext_lazy("Description"),
            aliases=("description", "content", "ticketdescription"),
        ),
        _f("owner", gettext_lazy("Owner"), "owner", _OWNER.aliases + ("ticketowner",)),
    ),
}

_PROPERTY_KINDS = {
    PropertyType.NUMBER: "decimal",
    PropertyType.DATE: "date",
    PropertyType.BOOLEAN: "boolean",
    PropertyType.CHOICE: "choice",
}


def fields_for(record_type: RecordType) -> tuple[Field, ...]:
    """What a column of an import of `record_type` may be mapped to."""
    if record_type.custom_type is None:
        return FIELDS[record_type.slug]
    props = tuple(
        _f(
            f"prop:{d.key}",
            d.label,
            _PROPERTY_KINDS.get(d.type, "text"),
            (normalize(d.label), normalize(d.key)),
            max_length=1000 if d.type == PropertyType.TEXT else None,
            choices=tuple((o, o) for o in d.options),
            matchable=d.type in (PropertyType.TEXT, PropertyType.NUMBER),
            required=d.required and d.type != PropertyType.BOOLEAN,
        )
        for d in record_type.custom_type.property_definitions.all()
    )
    name = _f("name", gettext_lazy("Name"), aliases=("name",), max_length=255, matchable=True)
    return (_ID, name, *props, _f("owner", gettext_lazy("Owner"), "owner", _OWNER.aliases))


def guess(header: list[str], fields: tuple[Field, ...]) -> dict[str, str]:
    """Column index (as text) -> the field its header names, or "" to skip it; each field
    taken by the first column that names it."""
    mapping, taken = {}, set()
    for index, name in enumerate(header):
        wanted = normalize(name)
        field = next((f for f in fields if wanted in f.aliases and f.key not in taken), None)
        mapping[str(index)] = field.key if field else ""
        if field:
            taken.add(field.key)
    return mapping
