"""Data migrations: an existing account keeps its reply counts and gets sources filled in."""

from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

BEFORE = [("mailboxes", "0005_outbound_queue_indexes"), ("records", "0002_search_trigram")]
AFTER = [("mailboxes", "0006_outbound_source_and_replies"), ("records", "0003_activity_kind_open")]


@pytest.fixture(autouse=True)
def latest_schema_afterwards():
    """Each test migrates to some past state: the tests after it need today's schema back."""
    yield
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_replies_found_before_the_upgrade_are_counted_on_the_reps_emails():
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


@pytest.mark.django_db(transaction=True)
def test_shared_templates_and_snippets_stay_shared_with_everyone_and_the_rest_private():
    before = [("mailboxes", "0006_outbound_source_and_replies")]
    after = [("mailboxes", "0007_content_sharing")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    apps = executor.loader.project_state(before).apps
    owner = apps.get_model("records", "User").objects.create(username="rep")
    made = {}
    for name in ("EmailTemplate", "Snippet"):
        model = apps.get_model("mailboxes", name)
        for shared in (True, False):
            made[name, shared] = model.objects.create(
                owner_id=owner.pk, name=f"{name} {shared}", body="<p>x</p>", shared=shared
            ).pk

    executor = MigrationExecutor(connection)
    executor.migrate(after)
    apps = executor.loader.project_state(after).apps
    for (name, shared), pk in made.items():
        row = apps.get_model("mailboxes", name).objects.get(pk=pk)
        assert row.sharing == ("everyone" if shared else "private"), (name, shared)
