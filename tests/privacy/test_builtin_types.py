"""The built-in subscription types are there after anything that empties the tables: the
migration made them once, `flush` (and a transactional test's teardown) removes every row."""

import pytest
from django.core.management import call_command

from privacy.constants import SubscriptionKind
from privacy.models import SubscriptionType


@pytest.mark.django_db(transaction=True)
def test_the_builtin_subscription_types_come_back_after_a_flush():
    call_command("flush", interactive=False, verbosity=0)
    builtins = SubscriptionType.objects.filter(is_builtin=True)
    assert sorted(builtins.values_list("kind", "name")) == sorted(
        [
            (SubscriptionKind.ONE_TO_ONE, "One to one"),
            (SubscriptionKind.TRANSACTIONAL, "Transactional"),
        ]
    )
    # Made again only when missing: a second flush leaves one of each.
    call_command("flush", interactive=False, verbosity=0)
    assert builtins.count() == 2
