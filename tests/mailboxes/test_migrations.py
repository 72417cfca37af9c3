"""Data migrations: an existing account keeps its reply counts and gets sources filled in."""

from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

BEFORE = [("mailboxes", "0005_outbound_queue_indexes"), ("records", "0002_search_trigram")]
AFTER = [("mailboxes", "0006_outbound_source_and_replies"), ("records", "0003_activity_kind_open")]


@pytest.fixture
def back_to_latest():
    """Migrate the test database forward to the latest migrations afterwards: later tests on
    this database need the tables that came after AFTER."""
    yield
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_replies_found_before_the_upgrade_are_counted_on_the_reps_emails(back_to_latest):
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    apps = executor.loader.project_state(BEFORE).apps
    thread = apps.get_model("mailboxes", "EmailThread").objects.create(subject="Quote")
    message = apps.get_model("mailboxes", "EmailMessage")
    sent = timezone.now() - timedelta(days=2)
    ours = message.objects.create(thread=thread, direction="out", sent_at=sent, message_id="<a@x>")
    for n, (when, auto) in enumerate(
        [(sent + timedelta(hours=1), False), (sent + timedelta(hours=2), True), (sent, False)]
    ):
        message.objects.create(
            thread=thread, direction="in", sent_at=when, is_auto_reply=auto, message_id=f"<{n}@y>"
        )
    rollup = apps.get_model("mailboxes", "TrackingRollup").objects.create(message=ours)

    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)
    apps = executor.loader.project_state(AFTER).apps
    ours = apps.get_model("mailboxes", "EmailMessage").objects.get(pk=ours.pk)
    assert ours.reply_count == 1
    assert ours.first_reply_at == sent + timedelta(hours=1)
    rollup = apps.get_model("mailboxes", "TrackingRollup").objects.get(pk=rollup.pk)
    assert rollup.source == "one_to_one"
