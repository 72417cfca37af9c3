"""records.bulk.create_rows: bulk_create's job by binary COPY on PostgreSQL, the same rows."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from records.bulk import create_rows
from records.constants import TaskStatus, TaskType
from records.models import Activity, User


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
