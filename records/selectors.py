"""Reads that pages need: filtered lists, associations and the timeline."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db import connection
from django.db.models import F, Q, QuerySet
from django.db.models.functions import Lower

from .access import visible_to
from .bulk import AnyOf
from .models import ActivityLink, Association, ContactEmail, Record, User
from .types import RecordType, record_type_for


def records_search(qs: QuerySet, query: str) -> QuerySet:
    """Match every word of `query` in the record's search digest (name, addresses, ...)."""
    for word in query.lower().split():
        qs = qs.filter(search_text__contains=word)
    return qs


def contacts_by_address(addresses: Iterable[str]) -> dict[str, int]:
    """The id of the contact that owns each address, keyed by the lowercased address; an
    address no contact has is left out. Any case matches, and an address has one contact at
    most (the unique index on the lowercased address, which this query reads)."""
    wanted = {a.strip().lower() for a in addresses if a and a.strip()}
    if not wanted:
        return {}
    return dict(
        ContactEmail.objects.annotate(lowered=Lower("address"))
        .filter(AnyOf(F("lowered"), wanted))
        .order_by()
        .values_list("lowered", "contact_id")
    )


# A search sorts its matches while they are fewer than 1/WALK_SHARE of all records (and fewer
# than SORT_MATCHES_MIN); with more, it reads the list in order down an index. See _has_many.
WALK_SHARE = 20
SORT_MATCHES_MIN = 5000


def _records_estimate() -> int:
    """PostgreSQL's own estimate of the number of records (0 elsewhere, or before ANALYZE)."""
    if connection.vendor != "postgresql":
        return 0
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [Record._meta.db_table]
        )
        row = cursor.fetchone()
    return max(int(row[0]), 0) if row else 0


def _has_many(qs: QuerySet) -> bool:
    """Whether a search matches enough rows to read its page down the list-order index.

    The `kind` filter, always true of a built-in type's rows, is what lets PostgreSQL read a
    list in order down the (kind, name) or (kind, updated_at) index and stop after one page
    instead of sorting every match: ~1 ms instead of 70-180 ms for "gmail.com" or "j" among
    100,000 contacts. But the planner prices that walk as if matches were spread evenly down
    the index, and a first name's matches all sit together in name order: "Patricia" (2,500
    matches) walked 75,000 rows, 45-130 ms, where sorting its matches takes ~15 ms. Walking
    costs ~0.6 µs a row and sorting ~3-6 µs a match, so walking is never much worse once the
    matches are a twentieth of the records. Counting that far reads at most that many matches.
    """
    need = max(SORT_MATCHES_MIN, _records_estimate() // WALK_SHARE)
    return qs.order_by().values("pk")[need - 1 : need].exists()


def records_list(
    user: User,
    record_type: RecordType,
    *,
    query: str = "",
    filters: dict | None = None,
    owner: str = "",
    sort: str = "",
    ids: list[int] | None = None,
) -> QuerySet:
    """The records of one type that `user` may see, searched, filtered and sorted."""
    qs = visible_to(user, record_type.queryset())
    if query:
        qs = records_search(qs, query)
    allowed_filters = {f.key: {v for v, _ in f.choices} for f in record_type.filters}
    for key, value in (filters or {}).items():
        if key in allowed_filters and value in allowed_filters[key]:
            qs = qs.filter(**{key: value})
    if owner == "me":
        qs = qs.filter(owner_id=user.pk)
    elif owner == "none":
        qs = qs.filter(owner__isnull=True)
    elif owner.isdigit():
        qs = qs.filter(owner_id=int(owner))
    if ids is not None:
        qs = qs.filter(pk__in=ids)
    if record_type.custom_type is None and (not query or _has_many(qs)):
        qs = qs.filter(kind=record_type.kind)
    descending = sort.startswith("-")
    field = record_type.sort_keys.get(sort.lstrip("-"), record_type.default_sort)
    order = f"-{field}" if descending else field
    return qs.order_by(order, "-pk" if descending else "pk")


@dataclass
class AssociationGroup:
    record_type: RecordType
    records: list[Record]


def associations_for(user: User, record: Record) -> list[AssociationGroup]:
    """The records associated with `record` that `user` may see, grouped by type."""
    linked = visible_to(
        user,
        Record.objects.filter(links_in__from_record_id=record.pk).select_related("custom_type"),
    ).order_by("kind", "name")
    groups: dict[str, AssociationGroup] = {}
    for other in linked:
        record_type = record_type_for(other)
        group = groups.setdefault(record_type.slug, AssociationGroup(record_type, []))
        group.records.append(other)
    return list(groups.values())


def first_associated_many(
    user: User, record_ids: set[int], kinds: tuple[str, ...]
) -> dict[int, dict[str, int]]:
    """For each of many records, the first record of each of `kinds` associated with it that
    `user` may see, by name as `associations_for` orders them: {record: {kind: id}}, in one
    query (the tokens of many sequence emails, mailboxes.composer.tokens)."""
    links = (
        Association.objects.filter(
            from_record_id__in=record_ids,
            to_record__in=visible_to(user, Record.objects.all()),
            to_record__kind__in=kinds,
        )
        .order_by("from_record_id", "to_record__kind", "to_record__name", "to_record_id")
        .values_list("from_record_id", "to_record__kind", "to_record_id")
    )
    firsts: dict[int, dict[str, int]] = {}
    for record_id, kind, other_id in links:
        firsts.setdefault(record_id, {}).setdefault(kind, other_id)
    return firsts


@dataclass
class TimelinePage:
    activities: list
    next_cursor: str | None


def _parse_cursor(cursor: str) -> tuple[datetime, int] | None:
    try:
        stamp, activity_id = cursor.rsplit("_", 1)
        return datetime.fromisoformat(stamp), int(activity_id)
    except ValueError:
        return None


def timeline_for_record(record: Record, *, cursor: str = "", limit: int = 20) -> TimelinePage:
    """One page of the record's activities, newest first, by keyset on (time, id).

    The number of queries depends on the activity kinds on the page, not on the timeline's
    length: one for the page, then one per kind that registered a prefetch.
    """
    from . import timeline

    links = ActivityLink.objects.filter(record_id=record.pk)
    position = _parse_cursor(cursor) if cursor else None
    if position:
        stamp, activity_id = position
        # (time, id) < (stamp, id) spelled with an OR, which no index can seek to; the redundant
        # `occurred_at <= stamp` is the part the `timeline_order` index starts from, so a page
        # deep in a long timeline reads its own rows, not every newer one before it.
        links = links.filter(occurred_at__lte=stamp).filter(
            Q(occurred_at__lt=stamp) | Q(occurred_at=stamp, activity_id__lt=activity_id)
        )
    rows = list(
        links.select_related("activity", "activity__created_by", "activity__assigned_to").order_by(
            "-occurred_at", "-activity_id"
        )[: limit + 1]
    )
    activities = [row.activity for row in rows[:limit]]
    timeline.prefetch(activities)
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = f"{last.occurred_at.isoformat()}_{last.activity_id}"
    return TimelinePage(activities, next_cursor)
