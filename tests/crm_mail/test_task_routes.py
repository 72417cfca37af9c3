"""Every task goes to the queue of its job (settings.CELERY_TASK_ROUTES), beat's included, and
the one worker of `make run` consumes them all; beat's heartbeat goes to every queue."""

from django.conf import settings

from crm_mail.celery import app
from crm_mail.heartbeats import HEARTBEAT
from mailboxes import jobs
from records import jobs as records_jobs

QUEUES = {
    "sync": {jobs.SYNC_MAILBOX, jobs.SYNC_ALL, jobs.RECONCILE_ALL},
    "send": {jobs.SEND_OUTBOUND, jobs.SEND_DUE, jobs.FILE_SENT_COPIES, jobs.FILE_OWED_COPIES},
    "bodies": {jobs.FILL_BODIES, records_jobs.IMPORT_RUN},
    "housekeeping": {
        jobs.TRACKING_FLUSH,
        jobs.REVOKE_GOOGLE_TOKEN,
        records_jobs.NOTIFY,
        jobs.CONVERSATIONS_WAKE,
        jobs.REPORTS_REFRESH,
    },
    "sequences": {jobs.SEQUENCE_TICK},
    "transactional": {
        jobs.SEND_TRANSACTIONAL,
        jobs.SEND_TRANSACTIONAL_DUE,
        jobs.SINGLE_SEND,
        jobs.SINGLE_SEND_DUE,
        jobs.DELIVER_WEBHOOK,
        jobs.DELIVER_WEBHOOKS_DUE,
    },
}
EXPECTED = {name: queue for queue, names in QUEUES.items() for name in names}


def queue_of(name: str, options: dict | None = None) -> str:
    """The queue Celery puts a message for task `name` on, as .delay() and beat do."""
    return app.amqp.router.route(dict(options or {}), name)["queue"].name


def job_names() -> set[str]:
    """Every task name declared by records and mailboxes."""
    return {
        value
        for module in (records_jobs, jobs)
        for key, value in vars(module).items()
        if key.isupper() and isinstance(value, str)
    }


def test_each_task_name_goes_to_the_queue_of_its_job():
    assert {name: queue_of(name) for name in EXPECTED} == EXPECTED


def test_every_name_in_jobs_is_routed_and_expected_here():
    names = job_names()
    assert names == set(EXPECTED), "a name in records' or mailboxes' jobs.py has no queue here"
    assert names <= set(settings.CELERY_TASK_ROUTES)


def test_every_registered_task_is_named_in_jobs():
    app.loader.import_default_modules()
    ours = {name for name in app.tasks if not name.startswith("celery.")}
    assert ours == job_names() | {HEARTBEAT}


def test_beat_sends_each_periodic_task_to_its_queue():
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        if entry["task"] != HEARTBEAT:
            assert queue_of(entry["task"], entry.get("options")) == EXPECTED[entry["task"]]


def test_beat_sends_a_heartbeat_to_every_queue_naming_it():
    sent = [
        (queue_of(entry["task"], entry["options"]), entry["args"])
        for entry in settings.CELERY_BEAT_SCHEDULE.values()
        if entry["task"] == HEARTBEAT
    ]
    assert sent == [(queue, (queue,)) for queue in settings.CRM_QUEUES]


def test_an_unrouted_task_stays_on_the_default_queue():
    assert queue_of("crm_mail.not_routed") == settings.CELERY_TASK_DEFAULT_QUEUE == "celery"


def test_the_embedded_worker_consumes_every_queue_and_the_default_one():
    assert settings.CRM_QUEUES == [
        "sync",
        "send",
        "bodies",
        "housekeeping",
        "sequences",
        "transactional",
        "celery",
    ]
