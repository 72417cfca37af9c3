"""The Celery app: configured from Django settings (CELERY_*), tasks from each app's tasks.py."""

import gc
import os

from celery import Celery
from celery.signals import (
    beat_init,
    task_postrun,
    task_prerun,
    worker_init,
    worker_process_init,
    worker_ready,
)
from django.db import close_old_connections

from .heartbeats import beat_started
from .heartbeats import worker_ready as record_worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm_mail.settings")

app = Celery("crm_mail")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
@worker_process_init.connect
def freeze_startup_objects(**_) -> None:
    """Put everything loaded at startup out of the garbage collector's reach.

    A worker allocates for every email it sends, and each full collection would otherwise walk
    every module, model and setting loaded at startup: 40-60 ms each, several times a
    thousand emails, during which nothing is sent (bench/send_throughput.py).
    """
    gc.freeze()


# Beat and the workers say they are alive; /health/ reads it (heartbeats.py).
worker_ready.connect(record_worker_ready, weak=False)
beat_init.connect(beat_started, weak=False)


@task_prerun.connect
@task_postrun.connect
def keep_connections(sender, **_) -> None:
    """Give each task Django's per-request treatment of database connections: a connection is
    kept for CONN_MAX_AGE and closed only when it is broken or too old (then opened again at
    the task's first query, health-checked first: CONN_HEALTH_CHECKS).

    Celery's Django fixup would close every connection before and after every task: each task
    then opened a new PostgreSQL connection (a backend started, its caches cold; PostgreSQL's
    log showed one backend per send job). Its own recycling (CELERY_DB_REUSE_MAX) is set out
    of reach in settings.py, so this is what decides. An eager task (tests,
    CELERY_TASK_ALWAYS_EAGER) runs inside its caller's transaction: left alone, as the fixup
    leaves it."""
    if not getattr(sender.request, "is_eager", False):
        close_old_connections()
