"""What the pages need to know about each record type, built-in or custom.

A `RecordType` names its URL slug, model, labels, list columns, filters and sort keys, so one
set of views serves every type.
"""

from dataclasses import dataclass, field

from django.db.models import QuerySet
from django.http import Http404
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from .constants import (
    BUILTIN_TYPE_SLUGS,
    DealStage,
    LifecycleStage,
    RecordKind,
    TicketPriority,
    TicketStatus,
)
from .models import Company, Contact, CustomObjectType, Deal, Record, Ticket


@dataclass(frozen=True)
class Column:
    key: str  # attribute on the record, or "prop:<key>" for a custom property
    label: str | Promise  # a lazy translation for a built-in column
    sort: str | None = None  # ORM ordering field, when sortable
    money: bool = False  # an amount in the account's currency (records/money.py)
    wide_only: bool = False  # left out of the compact list a phone shows


@dataclass(frozen=True)
class Filter:
    key: str  # query-string name and ORM field
    label: str | Promise
    choices: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class RecordType:
    slug: str
    kind: str
    # Lazy translations for a built-in type (str() them where a plain string is needed), the
    # admin's words for a custom one.
    label: str | Promise
    plural: str | Promise
    model: type[Record]
    columns: tuple[Column, ...]
    filters: tuple[Filter, ...] = ()
    custom_type: CustomObjectType | None = None
    default_sort: str = "name"
    csv_fields: tuple[str, ...] = field(default=())

    def queryset(self) -> QuerySet:
        qs = self.model.objects.select_related("owner")
        if self.custom_type is not None:
            qs = qs.filter(kind=RecordKind.CUSTOM, custom_type=self.custom_type)
        return qs

    @property
    def sort_keys(self) -> dict[str, str]:
        return {c.key: c.sort for c in self.columns if c.sort}


_OWNER = Column("owner", _("Owner"), "owner__username")
_CREATED = Column("created_at", _("Created"), "created_at", wide_only=True)
_UPDATED = Column("updated_at", _("Last updated"), "updated_at", wide_only=True)

BUILTIN_TYPES: dict[str, RecordType] = {
    "contacts": RecordType(
        slug="contacts",
        kind=RecordKind.CONTACT,
        label=_("Contact"),
        plural=_("Contacts"),
        model=Contact,
        columns=(
            Column("name", _("Name"), "name"),
            Column("email", _("Email"), "email"),
            Column("phone", _("Phone")),
            Column("lifecycle_stage", _("Lifecycle stage"), "lifecycle_stage"),
            _OWNER,
            _UPDATED,
        ),
        filters=(Filter("lifecycle_stage", _("Lifecycle stage"), tuple(LifecycleStage.choices)),),
    ),
    "companies": RecordType(
        slug="companies",
        kind=RecordKind.COMPANY,
        label=_("Company"),
        plural=_("Companies"),
        model=Company,
        columns=(
            Column("name", _("Name"), "name"),
            Column("domain", _("Domain"), "domain"),
            Column("industry", _("Industry"), "industry"),
            Column("city", _("City"), "city"),
            _OWNER,
            _UPDATED,
        ),
    ),
    "deals": RecordType(
        slug="deals",
        kind=RecordKind.DEAL,
        label=_("Deal"),
        plural=_("Deals"),
        model=Deal,
        columns=(
            Column("name", _("Name"), "name"),
            Column("stage", _("Stage"), "stage"),
            Column("amount", _("Amount"), "amount", money=True),
            Column("close_date", _("Close date"), "close_date"),
            _OWNER,
            _UPDATED,
        ),
        filters=(Filter("stage", _("Stage"), tuple(DealStage.choices)),),
    ),
    "tickets": RecordType(
        slug="tickets",
        kind=RecordKind.TICKET,
        label=_("Ticket"),
        plural=_("Tickets"),
        model=Ticket,
        columns=(
            Column("name", _("Name"), "name"),
            Column("status", _("Status"), "status"),
            Column("priority", _("Priority"), "priority"),
            _OWNER,
            _CREATED,
        ),
        filters=(
            Filter("status", _("Status"), tuple(TicketStatus.choices)),
            Filter("priority", _("Priority"), tuple(TicketPriority.choices)),
        ),
    ),
}

assert tuple(BUILTIN_TYPES) == BUILTIN_TYPE_SLUGS


def custom_record_type(object_type: CustomObjectType) -> RecordType:
    definitions = list(object_type.property_definitions.all())
    columns = [Column("name", _("Name"), "name")]
    columns += [Column(f"prop:{d.key}", d.label) for d in definitions[:4]]
    columns += [_OWNER, _UPDATED]
    return RecordType(
        slug=object_type.slug,
        kind=RecordKind.CUSTOM,
        label=object_type.name,
        plural=object_type.plural,
        model=Record,
        columns=tuple(columns),
        custom_type=object_type,
    )


def get_record_type(slug: str) -> RecordType:
    """Return the record type for a URL slug, or 404."""
    if slug in BUILTIN_TYPES:
        return BUILTIN_TYPES[slug]
    object_type = (
        CustomObjectType.objects.prefetch_related("property_definitions").filter(slug=slug).first()
    )
    if object_type is None:
        raise Http404("No such record type")
    return custom_record_type(object_type)


def type_slug_for(record: Record) -> str:
    """The URL slug of a record's type, without a query for a built-in one (load a custom
    record with its `custom_type`)."""
    if record.kind == RecordKind.CUSTOM:
        return record.custom_type.slug
    return next(t.slug for t in BUILTIN_TYPES.values() if t.kind == record.kind)


def record_type_for(record: Record) -> RecordType:
    if record.kind == RecordKind.CUSTOM:
        return custom_record_type(record.custom_type)
    return next(t for t in BUILTIN_TYPES.values() if t.kind == record.kind)


def record_types_for(request) -> list[RecordType]:
    """`all_record_types()` once per request: the navigation and the page both need them."""
    if not hasattr(request, "_record_types"):
        request._record_types = all_record_types()
    return request._record_types


def all_record_types() -> list[RecordType]:
    """Every type for navigation menus: built-ins, then custom types by name."""
    customs = CustomObjectType.objects.prefetch_related("property_definitions")
    return list(BUILTIN_TYPES.values()) + [custom_record_type(t) for t in customs]
