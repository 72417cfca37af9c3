"""records.bulk.create_rows: bulk_create's job by binary COPY on PostgreSQL, the same rows;
records.bulk.AnyOf: the rows `__in` finds, with one array parameter on PostgreSQL."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.db.models.functions import Lower
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from records.bulk import AnyOf, create_rows
from records.constants import TaskStatus, TaskType
from records.models import Activity, ContactEmail, User


def _activities(owner, n: int, when) -> list[Activity]:
    return [
        Activity(
            kind="task",
            occurred_at=when,
            created_by=owner,
            title=f"Call {i} — “perché”",
            body="notes\nover lines" if i % 2 else "",
            task_type=TaskType.CALL,
            status=TaskStatus.NOT_STARTED,
            due_at=when if i % 2 else None,
            assigned_to=owner if i % 2 else None,
        )
        for i in range(n)
    ]


def _written(rows: list[Activity]) -> list[dict]:
    ignored = ("id", "created_at")
    values = Activity.objects.filter(pk__in=[r.pk for r in rows]).order_by("pk").values()
    return [{k: v for k, v in row.items() if k not in ignored} for row in values]


def test_create_rows_writes_what_bulk_create_writes(postgresql, owner):
    before = timezone.now()
    when = before - timedelta(days=1)
    created = create_rows(_activities(owner, 5, when))
    expected = Activity.objects.bulk_create(_activities(owner, 5, when))

    assert all(row.pk and not row._state.adding for row in created)
    assert len({row.pk for row in created}) == 5
    assert _written(created) == _written(expected)
    stored = Activity.objects.filter(pk__in=[r.pk for r in created])
    assert all(row.created_at >= before for row in stored)  # auto_now_add, as bulk_create


def test_create_rows_refuses_a_duplicate_as_bulk_create_does(postgresql, owner):
    taken = User(username=owner.username)
    with pytest.raises(IntegrityError), transaction.atomic():
        create_rows([taken])
    assert create_rows([]) == []


@pytest.mark.django_db
def test_any_of_finds_what_in_finds(owner, contact):
    users = User.objects.order_by("pk")
    wanted = [owner.pk, owner.pk, None, -1]
    assert list(users.filter(AnyOf(F("pk"), wanted))) == list(users.filter(pk__in=wanted))
    names = {"owner", "nobody", "O'Brien \\ {x,y}"}
    assert list(users.filter(AnyOf(F("username"), names))) == [owner]
    assert not users.filter(AnyOf(F("username"), [])).exists()
    assert not users.filter(AnyOf(F("username"), [None])).exists()
    lowered = ContactEmail.objects.annotate(lowered=Lower("address"))
    addresses = ["OLIVIA@acme.example".lower(), "o.owned@home.example", "x@y.example"]
    found = lowered.filter(AnyOf(F("lowered"), addresses)).values_list("lowered", flat=True)
    assert sorted(found) == sorted(addresses[:2])
    # Excluding works too (NOT ... = ANY), and a subquery is left to IN.
    assert list(users.exclude(AnyOf(F("pk"), [owner.pk]))) == list(users.exclude(pk=owner.pk))
    inner = User.objects.filter(username="owner").values("pk")
    assert list(users.filter(AnyOf(F("pk"), inner))) == [owner]


ODD_NAMES = ['a"b', "back\\slash", '\\"', "{brace}", "com,ma", " space ", "NULL", "", "ünï", "O'Br"]


@pytest.mark.django_db
def test_any_of_reads_odd_strings_and_big_ids_as_in_does(owner):
    """AnyOf binds ints and strings as one array literal (array_literal): pinned to __in."""
    for name in ODD_NAMES:
        User.objects.create(username=name, password="!")
    users = User.objects.order_by("pk")
    for wanted in ([*ODD_NAMES, "nobody"], ODD_NAMES[:1], ["null", "NULL "]):
        assert list(users.filter(AnyOf(F("username"), wanted))) == list(
            users.filter(username__in=wanted)
        )
    ids = [owner.pk, 2**62, -(2**62), 0]
    assert list(users.filter(AnyOf(F("pk"), ids))) == [owner]


def test_any_of_sends_one_array_parameter(postgresql, owner):
    with CaptureQueriesContext(connection) as queries:
        list(User.objects.filter(AnyOf(F("pk"), list(range(1_000)))))
    (query,) = queries.captured_queries
    assert "= ANY(" in query["sql"] and " IN (" not in query["sql"]
