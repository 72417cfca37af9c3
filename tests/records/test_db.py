"""records.db.fetchone: a hot path's statement prepared once per connection on PostgreSQL, in
the caller's transaction, its errors Django's, and counted where Django counts queries."""

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from records import db
from records.models import Team

pytestmark = pytest.mark.django_db

COUNT = f"SELECT COUNT(*) FROM {Team._meta.db_table} WHERE name = %s"


def test_it_reads_the_callers_transaction_and_is_counted():
    with transaction.atomic():
        Team.objects.create(name="Blue")
        with CaptureQueriesContext(connection) as queries:
            assert db.fetchone(COUNT, ("Blue",)) == (1,)
    assert len(queries.captured_queries) == 1 and "WHERE name" in queries[0]["sql"]
    assert db.fetchone(f"SELECT name FROM {Team._meta.db_table} WHERE name = %s", ["x"]) is None


def test_on_postgresql_it_is_prepared_once_per_connection(postgresql):
    prepared = "SELECT COUNT(*) FROM pg_prepared_statements WHERE statement LIKE %s"
    pattern = f"%FROM {Team._meta.db_table} WHERE name = $1%"
    for name in ("Blue", "Red", "Blue"):
        db.fetchone(COUNT, (name,))
    with connection.cursor() as cursor:
        cursor.execute(prepared, [pattern])
        assert cursor.fetchone() == (1,)  # one statement, whatever the values


def test_its_errors_are_djangos():
    Team.objects.create(name="Blue")
    insert = f"INSERT INTO {Team._meta.db_table} (name) VALUES (%s) RETURNING id"
    with pytest.raises(IntegrityError), transaction.atomic():
        db.fetchone(insert, ("Blue",))
    assert Team.objects.filter(name="Blue").count() == 1
