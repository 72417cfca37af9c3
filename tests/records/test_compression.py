"""records.compression: the columns that hold mail and files are compressed with lz4 on
PostgreSQL (their migrations), and what is stored reads back whole."""

import pytest
from django.db import connection
from django.utils import timezone

from mailboxes.constants import Direction
from mailboxes.models import EmailMessage, EmailThread
from records import compression

pytestmark = pytest.mark.django_db

COLUMNS = {
    "mailboxes_emailmessage": ["raw", "html_body", "text_body"],
    "mailboxes_outboundattachment": ["data"],
    "mailboxes_draftattachment": ["data"],
    "records_importfile": ["data"],
}


def _methods() -> dict[tuple[str, str], str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT attrelid::regclass::text, attname, attcompression FROM pg_attribute "
            "WHERE attrelid::regclass::text = ANY(%s) AND attnum > 0",
            [list(COLUMNS)],
        )
        return {(t, c): m for t, c, m in cursor.fetchall()}


def test_the_migrations_give_mail_and_files_lz4(postgresql):
    methods = _methods()
    assert {(t, c): methods[t, c] for t, cs in COLUMNS.items() for c in cs} == {
        (t, c): "l" for t, cs in COLUMNS.items() for c in cs
    }
    # Nothing else changed: the small columns keep the server's default.
    assert methods["mailboxes_emailmessage", "subject"] == ""


def test_a_message_is_stored_with_lz4_and_read_back_whole(postgresql):
    body = "<p>" + "Your quote for the renewal, line by line. " * 400 + "</p>"
    raw = b"Subject: Quote\r\n\r\n" + body.encode() * 2
    message = EmailMessage.objects.create(
        thread=EmailThread.objects.create(subject="Quote"),
        direction=Direction.INCOMING,
        from_addr="client@example.com",
        subject="Quote",
        sent_at=timezone.now(),
        raw=raw,
        html_body=body,
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_column_compression(raw), pg_column_compression(html_body), "
            "pg_column_size(raw) FROM mailboxes_emailmessage WHERE id = %s",
            [message.pk],
        )
        raw_method, html_method, stored = cursor.fetchone()
    assert (raw_method, html_method) == ("lz4", "lz4")
    assert stored < len(raw) / 10
    message = EmailMessage.objects.get(pk=message.pk)
    assert (bytes(message.raw), message.html_body) == (raw, body)


class _Editor:
    """What a migration's schema editor offers use_lz4, on `db` (a connection, or a stand-in
    that says which database it is), keeping the statements it runs."""

    def __init__(self, db=connection):
        self.connection, self.statements = db, []

    def quote_name(self, name):
        return connection.ops.quote_name(name)

    def execute(self, sql):
        self.statements.append(sql)
        with connection.cursor() as cursor:
            cursor.execute(sql)


def test_it_can_be_undone(postgresql):
    compression.use_lz4(_Editor(), {"records_importfile": ["data"]}, "default")
    assert _methods()["records_importfile", "data"] == ""
    compression.use_lz4(_Editor(), {"records_importfile": ["data"]})
    assert _methods()["records_importfile", "data"] == "l"


class _Database:
    def __init__(self, vendor, pg_version=None):
        self.vendor, self.pg_version, self.alias = vendor, pg_version, "default"


@pytest.mark.parametrize("db", [_Database("sqlite"), _Database("postgresql", 130000)])
def test_elsewhere_it_does_nothing(db):
    editor = _Editor(db)
    compression.use_lz4(editor, COLUMNS)
    assert editor.statements == []
