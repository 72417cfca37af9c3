"""Personas used by every permission test, in the manner of healthchecks' hc/test.py.

- `owner`: Sales Hub seat, team "Blue", sees only their own records.
- `teammate`: Sales Hub seat, team "Blue", sees the team's records.
- `outsider`: Sales Hub seat, team "Red", sees the team's records (so nothing of Blue's).
- `viewer`: View-only seat on team "Blue" with team access.
- `admin`: account admin who sees everything.
"""

import logging
import os
from urllib.parse import urlsplit, urlunsplit

import pytest
from celery.signals import before_task_publish

from records.constants import RecordAccess, Seat

from .factories import ContactFactory, TeamFactory, UserFactory

# Real servers and provider fakes, for every test module that asks for them.
from .fakes.fixtures import (  # noqa: F401
    dead_broker,
    dovecot,
    dovecot_server,
    dsn_relay,
    exchange_certificate,
    fake_exchange,
    fake_google,
    fake_microsoft,
    redis_server,
    redis_url,
    smtp_sink,
)

# A team inbox and pages synced into it (the conversations inbox's tests).
from .mailboxes.conversations import sync_page, team_desk  # noqa: F401
from .servers import server_missing

# aiosmtpd logs every command line its test servers receive at INFO, corpus addresses with
# undecodable bytes (lone surrogates) among them, which pytest-xdist cannot ship between
# processes (its workers then stop with INTERNALERROR). Its warnings still show.
logging.getLogger("mail.log").setLevel(logging.WARNING)

# Where queued jobs go during tests (pytest_configure): a broker in this process's memory,
# which nothing consumes. A test that needs a job done runs the function its task wraps.
TEST_BROKER_URL = "memory://"
# Redis's default number of databases (`databases 16`), over which xdist workers spread.
REDIS_DATABASES = 16
# What the tests' servers listen on, allowed as an admin would allow a LAN mail server.
LOOPBACK = ("127.0.0.0/8", "::1")


@pytest.fixture
def blue(db):
    return TeamFactory(name="Blue")


@pytest.fixture
def red(db):
    return TeamFactory(name="Red")


@pytest.fixture
def owner(blue):
    return UserFactory(username="owner", team=blue, record_access=RecordAccess.OWN)


@pytest.fixture
def teammate(blue):
    return UserFactory(username="teammate", team=blue, record_access=RecordAccess.TEAM)


@pytest.fixture
def outsider(red):
    return UserFactory(username="outsider", team=red, record_access=RecordAccess.TEAM)


@pytest.fixture
def viewer(blue):
    return UserFactory(
        username="viewer", team=blue, record_access=RecordAccess.TEAM, seat=Seat.VIEW_ONLY
    )


@pytest.fixture
def admin_user(db):
    return UserFactory(username="admin", is_staff=True, record_access=RecordAccess.ALL)


@pytest.fixture
def contact(owner):
    return ContactFactory(
        first_name="Olivia",
        last_name="Owned",
        owner=owner,
        emails=["olivia@acme.example", "o.owned@home.example"],
    )


class QueuedJobs(list):
    """(task name, args) of each job queued, in order."""

    def args_of(self, name: str) -> list[tuple]:
        """The args of each job queued under task `name`."""
        return [args for task, args in self if task == name]


@pytest.fixture
def queued_jobs():
    """Record every job queued during the test, as Celery publishes it (its
    `before_task_publish` signal, on any thread): `mailboxes.jobs.later` queues on commit, so
    a test in one transaction sees the jobs of code run under
    `django_capture_on_commit_callbacks(execute=True)`."""
    queued = QueuedJobs()

    def record(sender=None, body=None, **_):
        args, _kwargs, _embed = body  # task message protocol 2
        queued.append((sender, tuple(args)))

    before_task_publish.connect(record, weak=False)
    yield queued
    before_task_publish.disconnect(record)


@pytest.fixture
def celery_broker():
    """`celery_broker(url)`: from then on the test queues jobs as a web process whose broker is
    `url` does, through an app configured from the settings on that broker, made Celery's
    current app (the one `mailboxes.jobs` and /health/ use). Afterwards the product's app, on
    the tests' in-memory broker, is current again."""
    from celery import Celery

    from crm_mail.celery import app as product_app

    made = []

    def point(url: str) -> Celery:
        app = Celery("crm_mail")  # the current app from now on, in this thread
        app.config_from_object("django.conf:settings", namespace="CELERY")
        app.conf.broker_url = url
        made.append(app)
        return app

    yield point
    product_app.set_current()
    for app in made:
        app.close()


@pytest.fixture
def postgresql(db):
    """For tests of what only PostgreSQL does (table locks, prepared statements): skipped on
    SQLite (make test without DATABASE_URL), a failure under CI."""
    from django.db import connection

    if connection.vendor != "postgresql":
        server_missing("PostgreSQL (set DATABASE_URL)")


def worker_redis_url(url, worker):
    """REDIS_URL for one pytest-xdist worker ("gw0", "gw1", ...): the next database number
    for each, so one worker's cache.clear() or rate counter never reaches another's."""
    if not url or not worker.startswith("gw"):
        return url
    parts = urlsplit(url)
    base = int(parts.path.strip("/") or 0)
    number = (base + int(worker[2:])) % REDIS_DATABASES
    return urlunsplit(parts._replace(path=f"/{number}"))


def pytest_configure(config):
    from django.conf import settings

    from crm_mail.celery import app

    # Under pytest-xdist each worker has its own test database (pytest-django) and, here, its
    # own Redis database; the environment too, for the workers tests start in subprocesses.
    url = worker_redis_url(settings.REDIS_URL, os.environ.get("PYTEST_XDIST_WORKER", ""))
    if url != settings.REDIS_URL:
        os.environ["REDIS_URL"] = settings.REDIS_URL = settings.CELERY_BROKER_URL = url
        settings.CACHES = {
            **settings.CACHES,
            "default": {**settings.CACHES["default"], "LOCATION": url},
        }

    # Under CI the suite runs on the real PostgreSQL: SQLite would hide what the product
    # relies on (trigram search, SKIP LOCKED, table locks in the fault tests).
    engine = settings.DATABASES["default"]["ENGINE"]
    if os.environ.get("CI", "").lower() == "true" and not engine.endswith("postgresql"):
        raise pytest.UsageError("CI=true needs DATABASE_URL pointing at PostgreSQL")

    # The real hasher costs ~0.3 s a password on these machines; tests create hundreds.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

    # The suite's own mail servers and fakes (Dovecot, aiosmtpd, the EWS and OAuth fakes)
    # listen on loopback, which the product refuses for servers users name unless an admin
    # allows it (tests/mailboxes/test_network_policy.py empties this to see the refusals).
    # The environment too, for the Celery workers some tests start in subprocesses.
    os.environ["CRM_MAIL_SERVER_ALLOWLIST"] = ",".join(LOOPBACK)
    settings.CRM_MAIL_SERVER_ALLOWLIST = list(LOOPBACK)

    # Jobs queued by the code under test go nowhere shared (the product's broker stays in
    # settings.CELERY_BROKER_URL for the tests of the broker itself).
    app.conf.broker_url = TEST_BROKER_URL
    app.conf.broker_transport_options = {}
