"""Fixtures of the enrollment tests: the owner's inbox, a three-step sequence of theirs, and
the test client signed in as them. A module that needs another shape defines its own."""

import pytest

from .enrollment_support import inbox_of, three_steps


@pytest.fixture
def inbox(owner):
    return inbox_of(owner)


@pytest.fixture
def sequence(owner):
    return three_steps(owner)


@pytest.fixture
def rep(client, owner, inbox):
    client.force_login(owner)
    return client
