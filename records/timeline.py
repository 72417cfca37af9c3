"""The timeline: which activity kinds exist, how each shows, and the one way to write on it.

Records knows only its own kinds (notes, tasks and meetings). Apps built on it register theirs at
startup (mailboxes adds email; sequences will add enrollment events and sequence tasks) with a
label, a template and, when the kind needs more rows than the activity itself, a prefetch that
loads them for a whole page in one query. Writing an activity of a kind nobody registered is an
error, so a typo cannot put rows on timelines that render as "unknown".

Writes: `log` puts one activity on several records, `log_many` writes a batch of activities
of one kind (binary COPY on PostgreSQL, a few statements whatever the size), `move` changes
when an activity happened, on every timeline it is on.
"""

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .bulk import insert_rows
from .constants import ActivityKind, RecordKind
from .models import Activity, ActivityLink, Record


@dataclass(frozen=True)
class ActivityKindInfo:
    kind: str
    label: str
    template: str
    prefetch: Callable[[list], None] | None = None


_kinds: dict[str, ActivityKindInfo] = {}


def register_kind(
    kind: str, label: str, template: str, prefetch: Callable[[list], None] | None = None
) -> None:
    """Declare an activity kind (at most 32 characters) and how the timeline renders it."""
    if len(kind) > Activity._meta.get_field("kind").max_length:
        raise ValueError(f"Activity kind {kind!r} is too long")
    _kinds[kind] = ActivityKindInfo(kind, str(label), template, prefetch)


def register_builtin_kinds() -> None:
    register_kind(ActivityKind.NOTE, _("Note"), "records/activities/note.html")
    register_kind(ActivityKind.TASK, _("Task"), "records/activities/task.html")
    register_kind(ActivityKind.MEETING, _("Meeting"), "records/activities/meeting.html", _attendees)


def _attendees(meetings: list) -> None:
    """Each meeting's contacts (`attendees`, names in order), for a page in one query."""
    names = defaultdict(list)
    links = (
        ActivityLink.objects.filter(activity__in=meetings, record__kind=RecordKind.CONTACT)
        .order_by("record__name")
        .values_list("activity_id", "record__name")
    )
    for activity_id, name in links:
        names[activity_id].append(name)
    for meeting in meetings:
        meeting.attendees = names[meeting.pk]


def registered_kinds() -> list[ActivityKindInfo]:
    return list(_kinds.values())


def kind_label(kind: str) -> str:
    info = _kinds.get(kind)
    return info.label if info else kind


def template_for(kind: str) -> str:
    info = _kinds.get(kind)
    return info.template if info else "records/activities/unknown.html"


def prefetch(activities: list) -> None:
    """Run each kind's prefetch once over the activities of that kind on the page."""
    by_kind = defaultdict(list)
    for activity in activities:
        by_kind[activity.kind].append(activity)
        activity.template_name = template_for(activity.kind)
    for kind, items in by_kind.items():
        info = _kinds.get(kind)
        if info and info.prefetch:
            info.prefetch(items)


def _check_kind(kind: str) -> None:
    if kind not in _kinds:
        raise ValueError(f"Activity kind {kind!r} is not registered")


def _record_ids(records: Iterable) -> list[int]:
    """Ids of records or plain ids, each once, in order."""
    ids = (r if isinstance(r, int) else r.pk for r in records)
    return list(dict.fromkeys(ids))


@transaction.atomic
def log(
    kind: str,
    records: Iterable[Record | int],
    *,
    created_by=None,
    occurred_at: datetime | None = None,
    **fields,
) -> Activity:
    """Create one activity and put it on each record's timeline (each record once)."""
    _check_kind(kind)
    occurred_at = occurred_at or timezone.now()
    activity = Activity.objects.create(
        kind=kind, created_by=created_by, occurred_at=occurred_at, **fields
    )
    ActivityLink.objects.bulk_create(
        [
            ActivityLink(activity=activity, record_id=pk, occurred_at=occurred_at)
            for pk in _record_ids(records)
        ]
    )
    return activity


@dataclass
class Entry:
    """One activity of a `log_many` batch: the records it goes on, when, by whom."""

    record_ids: Iterable[int]
    occurred_at: datetime
    created_by_id: int | None = None
    fields: dict = field(default_factory=dict)


@transaction.atomic
def log_many(kind: str, entries: list[Entry], *, now: datetime | None = None) -> list[int]:
    """Write a batch of activities of one kind with their timeline links; return their ids
    in the order of `entries`. Every entry must give the same extra `fields`."""
    _check_kind(kind)
    if not entries:
        return []
    now = now or timezone.now()
    columns: dict[str, list] = {
        "kind": [kind] * len(entries),
        "occurred_at": [e.occurred_at for e in entries],
        "created_by_id": [e.created_by_id for e in entries],
    }
    for name in entries[0].fields:
        columns[name] = [e.fields[name] for e in entries]
    activity_ids = insert_rows(Activity, columns, now)
    links = [
        (activity_id, record_id, entry.occurred_at)
        for entry, activity_id in zip(entries, activity_ids, strict=True)
        for record_id in _record_ids(entry.record_ids)
    ]
    if links:
        activity_column, record_column, when_column = zip(*links, strict=True)
        insert_rows(
            ActivityLink,
            {
                "activity_id": list(activity_column),
                "record_id": list(record_column),
                "occurred_at": list(when_column),
            },
            now,
            keys=False,
        )
    return activity_ids


def link(activity_ids: Iterable[int], record: Record | int) -> None:
    """Put existing activities on one more record's timeline (each once; those already on it
    stay as they are): a help-desk conversation's emails on the ticket it opened."""
    record_id = record if isinstance(record, int) else record.pk
    ActivityLink.objects.bulk_create(
        [
            ActivityLink(activity_id=a.pk, record_id=record_id, occurred_at=a.occurred_at)
            for a in Activity.objects.filter(pk__in=list(activity_ids)).only("pk", "occurred_at")
        ],
        ignore_conflicts=True,
    )


@transaction.atomic
def move(activity_id: int, when: datetime) -> None:
    """Move an activity to another moment on every timeline it is on."""
    Activity.objects.filter(pk=activity_id).update(occurred_at=when)
    ActivityLink.objects.filter(activity_id=activity_id).update(occurred_at=when)
