"""The sending loop's server-bound cursor: same connection and transaction as Django's, binary
results, statements prepared once, and seen by Django's execute wrappers."""

from __future__ import annotations

import pytest
from django.db import connection

from mailboxes.models import EmailMessage, EmailThread
from mailboxes.outbox.sending import raw_mime
from mailboxes.outbox.server_cursor import server_cursor

pytestmark = pytest.mark.django_db


def stored_message(raw: bytes) -> EmailMessage:
    thread = EmailThread.objects.create(subject="cursor")
    return EmailMessage.objects.create(thread=thread, direction="out", raw=raw)


def test_it_sees_this_transactions_rows_and_returns_bytes():
    raw = b"Subject: hi\r\n\r\n" + bytes(range(256))  # every byte value, NUL included
    message = stored_message(raw)  # not committed: the test runs in a transaction

    assert raw_mime([message.pk, message.pk + 1000]) == {message.pk: raw}


def test_a_message_without_raw_bytes_is_left_out():
    message = stored_message(b"")

    assert raw_mime([message.pk]) == {}


def test_statements_are_prepared_once_and_django_sees_them(postgresql):
    seen = []

    def count(execute, sql, params, many, context):
        seen.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        for _ in range(3):
            with server_cursor() as cursor:
                cursor.execute("SELECT %s::int + 1", [41])
                assert cursor.fetchone() == (42,)

    assert seen == ["SELECT %s::int + 1"] * 3
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement = 'SELECT $1::int + 1'"
        )
        assert cursor.fetchone() == (1,)
