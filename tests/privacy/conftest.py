"""Fixtures for the privacy tests; the personas come from tests/conftest.py."""

import pytest

from privacy.constants import SubscriptionKind
from privacy.models import PrivacySettings, SubscriptionType


@pytest.fixture
def gdpr_on(db):
    PrivacySettings.objects.update_or_create(pk=1, defaults={"gdpr_enabled": True})


@pytest.fixture
def one_to_one(db):
    return SubscriptionType.builtin(SubscriptionKind.ONE_TO_ONE)


@pytest.fixture
def transactional(db):
    return SubscriptionType.builtin(SubscriptionKind.TRANSACTIONAL)


@pytest.fixture
def newsletter(db):
    return SubscriptionType.objects.create(name="Newsletter", description="Monthly news")
