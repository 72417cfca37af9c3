"""Heartbeats: beat and the workers of each queue say they are alive, /health/ reads it.

Beat queues the `heartbeat` job to every queue each CRM_HEARTBEAT_SECONDS (settings,
CELERY_BEAT_SCHEDULE) and records its own tick, "beat", once a job is handed to the broker.
The worker that runs a queue's job records "queue:<name>": that proves the whole way from beat
through the broker to a worker of that queue, per queue, so a queue without a worker shows.
A worker also records its queues as it starts, so a restarted one counts at once.

Each is one row in the database (`Heartbeat`), written by upsert: the embedded setup's web,
worker and beat are separate processes with a cache each.
"""

import logging
from datetime import datetime

from django.db import DatabaseError, close_old_connections
from django.utils import timezone

log = logging.getLogger(__name__)

HEARTBEAT = "crm_mail.heartbeat"
BEAT = "beat"


def queue_key(queue: str) -> str:
    return f"queue:{queue}"


def record(*names: str) -> None:
    """Stamp each named heartbeat with the current time. A database that does not answer
    costs a warning, never the caller (beat, a worker starting)."""
    from .models import Heartbeat  # here: settings import this module for HEARTBEAT

    now = timezone.now()
    try:
        for name in names:
            if not Heartbeat.objects.filter(name=name).update(at=now):
                Heartbeat.objects.bulk_create([Heartbeat(name=name, at=now)], ignore_conflicts=True)
    except DatabaseError as exc:
        log.warning("could not record the heartbeat of %s: %s", ", ".join(names), exc)
        # Beat holds its connection outside any request: drop a broken one, so that the next
        # heartbeat connects again once the database is back.
        close_old_connections()


def last_seen() -> dict[str, datetime]:
    """{name: when it was last recorded} for every heartbeat ever recorded."""
    from .models import Heartbeat

    return dict(Heartbeat.objects.values_list("name", "at"))


# Celery signal receivers, connected in crm_mail/celery.py.


def worker_ready(sender=None, **_) -> None:
    """A worker has started consuming: its queues are served from now on."""
    queues = sender.app.amqp.queues.consume_from or sender.app.amqp.queues
    record(*(queue_key(name) for name in queues))


def beat_started(**_) -> None:
    from celery.signals import after_task_publish

    record(BEAT)
    # Only the beat process counts its own publishes.
    after_task_publish.connect(_beat_published, weak=False)


def _beat_published(sender=None, **_) -> None:
    if sender == HEARTBEAT:
        record(BEAT)
