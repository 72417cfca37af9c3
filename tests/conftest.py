"""Personas used by every permission test, in the manner of healthchecks' hc/test.py.

- `owner`: Sales Hub seat, team "Blue", sees only their own records.
- `teammate`: Sales Hub seat, team "Blue", sees the team's records.
- `outsider`: Sales Hub seat, team "Red", sees the team's records (so nothing of Blue's).
- `viewer`: View-only seat on team "Blue" with team access.
- `admin`: account admin who sees everything.
"""

import pytest

from records.constants import RecordAccess, Seat

from .factories import ContactFactory, TeamFactory, UserFactory

# Real servers and provider fakes, for every test module that asks for them.
from .fakes.fixtures import (  # noqa: F401
    dovecot,
    dovecot_server,
    exchange_certificate,
    fake_exchange,
    fake_google,
    fake_microsoft,
    redis_url,
    smtp_sink,
)


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


def pytest_configure(config):
    import os

    from django.conf import settings

    # Under CI the suite runs on the real PostgreSQL: SQLite would hide what the product
    # relies on (trigram search, SKIP LOCKED, table locks in the fault tests).
    engine = settings.DATABASES["default"]["ENGINE"]
    if os.environ.get("CI", "").lower() == "true" and not engine.endswith("postgresql"):
        raise pytest.UsageError("CI=true needs DATABASE_URL pointing at PostgreSQL")

    # The real hasher costs ~0.3 s a password on these machines; tests create hundreds.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
