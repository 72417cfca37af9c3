"""Heartbeats of beat and of each queue's workers, and what /health/ and Settings > System health
make of them and of the work waiting: the oldest due outbound email, the most overdue sync.
(The whole way, with a real runner, worker and beat: test_embedded_stack.py.)"""

from datetime import timedelta

import pytest
from celery.signals import after_task_publish
from django.conf import settings
from django.utils import timezone

from crm_mail import health, heartbeats
from crm_mail.celery import app
from crm_mail.models import Heartbeat
from crm_mail.tasks import heartbeat
from mailboxes.constants import MailboxStatus, SendStatus
from mailboxes.models import Mailbox, Outbound, SyncLease
from tests.mailboxes.inboxes import offline_mailbox
from tests.mailboxes.outbox import submit

pytestmark = pytest.mark.django_db
STALE = settings.CRM_HEARTBEAT_SECONDS * health.STALE_BEATS


def seen_ago(name: str, seconds: float) -> None:
    Heartbeat.objects.update_or_create(
        name=name, defaults={"at": timezone.now() - timedelta(seconds=seconds)}
    )


def checks(client) -> tuple[int, dict]:
    response = client.get("/health/")
    return response.status_code, response.json()["checks"]


def test_a_heartbeat_is_stamped_once_and_moved_on_after():
    heartbeats.record("beat")
    first = Heartbeat.objects.get(name="beat").at
    heartbeats.record("beat", "queue:send")
    assert Heartbeat.objects.count() == 2
    assert Heartbeat.objects.get(name="beat").at > first
    assert set(heartbeats.last_seen()) == {"beat", "queue:send"}


def test_the_heartbeat_job_records_the_queue_it_ran_on():
    heartbeat("bodies")
    assert set(heartbeats.last_seen()) == {"queue:bodies"}


def test_beat_records_its_start_and_each_heartbeat_it_hands_to_the_broker():
    heartbeats.beat_started()
    try:
        assert set(heartbeats.last_seen()) == {"beat"}
        seen_ago("beat", 60)
        app.send_task(heartbeats.HEARTBEAT, args=("send",), queue="send")  # the tests' broker
        assert timezone.now() - heartbeats.last_seen()["beat"] < timedelta(seconds=5)
        # Another job is not beat's tick.
        seen_ago("beat", 60)
        app.send_task("mailboxes.send_due", queue="send")
        assert timezone.now() - heartbeats.last_seen()["beat"] > timedelta(seconds=50)
    finally:
        after_task_publish.disconnect(heartbeats._beat_published)


def test_health_is_ok_when_every_part_beat_lately(client, background_alive):
    status, found = checks(client)
    assert status == 200
    # Recorded by the fixture a moment ago (a busy machine may take a second).
    assert found["beat"]["ok"] is True and found["beat"]["last_heartbeat_seconds"] <= 2
    queues = found["workers"]["queues"]
    assert list(queues) == settings.CRM_QUEUES
    assert all(q["ok"] is True and q["last_heartbeat_seconds"] <= 2 for q in queues.values())
    assert found["outbound"] == {"ok": True, "oldest_due_seconds": None}
    assert found["sync"] == {"ok": True, "oldest_overdue_seconds": None}


def test_health_names_the_queue_whose_worker_is_gone(client, background_alive):
    seen_ago("queue:send", STALE + 30)
    status, found = checks(client)
    assert status == 503
    assert found["beat"]["ok"] is True
    assert found["workers"]["ok"] is False
    error = f"no worker took a job (no heartbeat for {STALE + 30} s)"
    assert found["workers"]["error"] == f"queue send: {error}"
    assert found["workers"]["queues"]["send"] == {
        "ok": False,
        "error": error,
        "last_heartbeat_seconds": STALE + 30,
    }
    assert found["workers"]["queues"]["sync"]["ok"] is True


def test_a_heartbeat_a_little_late_is_no_outage(client, background_alive):
    seen_ago("queue:send", STALE - 5)
    seen_ago("beat", STALE - 5)
    assert checks(client)[0] == 200


def test_health_says_beat_is_gone_and_queues_are_unknown_without_it(client, background_alive):
    seen_ago("beat", STALE + 1)
    for queue in settings.CRM_QUEUES:
        seen_ago(heartbeats.queue_key(queue), STALE + 1)
    status, found = checks(client)
    assert status == 503
    assert found["beat"] == {
        "ok": False,
        "error": f"gone: no heartbeat for {STALE + 1} s",
        "last_heartbeat_seconds": STALE + 1,
    }
    assert found["workers"]["queues"]["sync"]["error"] == (
        f"unknown while beat is down (no heartbeat for {STALE + 1} s)"
    )


def test_a_fresh_install_without_worker_or_beat_is_not_healthy(client, db):
    status, found = checks(client)
    assert status == 503
    assert found["beat"]["error"] == "gone: no heartbeat yet"
    assert found["workers"]["queues"]["celery"]["last_heartbeat_seconds"] is None


def due(owner, ago: timedelta, status=SendStatus.QUEUED) -> Outbound:
    outbound = submit(owner, offline_mailbox(owner))
    Outbound.objects.filter(pk=outbound.pk).update(
        status=status, next_attempt_at=timezone.now() - ago
    )
    return outbound


def test_health_reports_how_long_the_oldest_due_email_has_waited(client, background_alive, owner):
    due(owner, timedelta(minutes=2))
    status, found = checks(client)
    assert status == 200
    assert found["outbound"]["ok"] is True
    assert 119 <= found["outbound"]["oldest_due_seconds"] <= 125


def test_health_answers_503_when_due_email_has_waited_too_long(client, background_alive, owner):
    outbound = due(owner, health.OUTBOUND_STUCK + timedelta(minutes=1))
    status, found = checks(client)
    assert status == 503
    assert found["outbound"]["error"].startswith("stuck: the oldest due email has waited 66")

    # Sent, or waiting for a later time (a schedule, a sending limit), it is not due.
    Outbound.objects.filter(pk=outbound.pk).update(status=SendStatus.SENT)
    assert checks(client)[1]["outbound"] == {"ok": True, "oldest_due_seconds": None}
    Outbound.objects.filter(pk=outbound.pk).update(
        status=SendStatus.SCHEDULED, next_attempt_at=timezone.now() + timedelta(hours=1)
    )
    assert checks(client)[0] == 200


def synced_ago(mailbox: Mailbox, ago: timedelta) -> None:
    Mailbox.objects.filter(pk=mailbox.pk).update(last_sync_at=timezone.now() - ago)


def test_health_reports_how_far_behind_the_most_belated_sync_is(
    client, background_alive, owner, settings
):
    settings.CRM_SYNC_SECONDS = 120
    on_time = offline_mailbox(owner)
    synced_ago(on_time, timedelta(seconds=60))
    assert checks(client)[1]["sync"] == {"ok": True, "oldest_overdue_seconds": None}

    synced_ago(on_time, timedelta(minutes=5))
    status, found = checks(client)
    assert status == 200 and 178 <= found["sync"]["oldest_overdue_seconds"] <= 185

    synced_ago(on_time, health.SYNC_STUCK + timedelta(minutes=3))
    status, found = checks(client)
    assert status == 503
    assert found["sync"]["error"].startswith("stuck: an inbox's sync is 66")


def test_a_sync_running_or_tried_lately_is_not_overdue_nor_an_inbox_to_reconnect(
    client, background_alive, owner, settings
):
    settings.CRM_SYNC_SECONDS = 120
    inbox = offline_mailbox(owner)
    synced_ago(inbox, timedelta(hours=2))
    now = timezone.now()
    # A worker started it a minute ago and failed on the server: the queue moves.
    lease = SyncLease.objects.create(mailbox=inbox, acquired_at=now - timedelta(minutes=1))
    assert checks(client)[1]["sync"]["oldest_overdue_seconds"] is None
    # A first sync running for an hour, its lease renewed: running, not late.
    SyncLease.objects.filter(pk=lease.pk).update(
        holder="host:1:abc",
        acquired_at=now - timedelta(hours=1),
        expires_at=now + timedelta(minutes=1),
    )
    assert checks(client)[0] == 200
    # Its worker died an hour ago: late.
    SyncLease.objects.filter(pk=lease.pk).update(expires_at=now - timedelta(hours=1))
    assert checks(client)[1]["sync"]["ok"] is False
    # An inbox waiting for its owner to reconnect is not synced at all.
    inbox.mark_needs_reconnect("password changed")
    assert Mailbox.objects.get(pk=inbox.pk).status == MailboxStatus.NEEDS_RECONNECT
    assert checks(client)[0] == 200


def test_the_system_health_page_shows_the_same_report_to_admins_only(
    client, background_alive, admin_user, owner
):
    seen_ago("queue:bodies", 7200)
    client.force_login(admin_user)
    page = client.get("/settings/health/").content.decode()
    assert "Something needs attention" in page
    assert "Worker of the bodies queue" in page and "last heartbeat 2 h ago" in page
    assert "no worker took a job (no heartbeat for " in page
    assert "Worker of the send queue" in page

    client.force_login(owner)
    assert client.get("/settings/health/").status_code == 403
