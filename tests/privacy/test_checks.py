"""The one check every send path calls, over every combination of its inputs."""

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from privacy.checks import can_email, can_email_many
from privacy.constants import BasisProblem, SenderContext, SubscriptionKind
from privacy.models import (
    ContactOptOut,
    LegalBasis,
    PrivacySettings,
    SubscriptionStatus,
    SubscriptionType,
)
from tests.factories import ContactFactory

MOMENT = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)

SETTINGS = ("privacy_on", "privacy_off")
ONE_TO_ONE = ("subscribed", "opted_out", "not_specified")
GLOBAL_OPT_OUT = ("opted_out_all", "not_opted_out_all")
BASES = ("no_basis", "standing", "one_time", "revoked", "recorded_after_moment")
CONTEXTS = ("one_to_one", "sequence", "ticket_reply", "transactional")

ALL_FIXES = ("add_subscription", "one_time_basis", "record_legal_basis")


def expected(setting, one_to_one, global_opt_out, basis, context):
    """The rules, stated from the product's requirements rather than from the code.

    - Email from a ticket and transactional email need nothing.
    - Opted out (of all email, or of the One to one type): a one-to-one email needs a one-time
      basis (whatever the setting); a sequence can't send at all.
    - Not opted out, privacy off: allowed.
    - Not opted out, privacy on: a standing basis (not revoked, not recorded later than the
      moment), or the One to one subscription, allows both; a one-time basis allows one-to-one.
    - "Add subscription" is offered only to contacts who have not opted out; sequences are
      never offered a one-time basis.
    """
    if context in ("ticket_reply", "transactional"):
        return True, "transactional", ()
    opted_out = global_opt_out == "opted_out_all" or one_to_one == "opted_out"
    privacy_on = setting == "privacy_on"
    counts_as_standing = basis == "standing"
    if opted_out:
        if context == "one_to_one" and basis == "one_time":
            return True, "one_time_basis", ()
        if context == "one_to_one":
            return False, "opted_out", ("one_time_basis",)
        return False, "opted_out", ()
    if not privacy_on:
        return True, "privacy_off", ()
    if counts_as_standing:
        return True, "legal_basis", ()
    if one_to_one == "subscribed":
        return True, "subscribed", ()
    if context == "one_to_one" and basis == "one_time":
        return True, "one_time_basis", ()
    if context == "one_to_one":
        return False, "no_legal_basis", ALL_FIXES
    return False, "no_legal_basis", ("add_subscription", "record_legal_basis")


def arrange(owner, setting, one_to_one, global_opt_out, basis):
    """Build the contact's state; opt-outs come before any basis."""
    PrivacySettings.objects.update_or_create(
        pk=1, defaults={"gdpr_enabled": setting == "privacy_on"}
    )
    contact = ContactFactory(owner=owner)
    if one_to_one != "not_specified":
        SubscriptionStatus.objects.create(
            contact=contact,
            subscription_type=SubscriptionType.builtin(SubscriptionKind.ONE_TO_ONE),
            status=one_to_one,
            updated_at=MOMENT - 3 * HOUR,
        )
    if global_opt_out == "opted_out_all":
        ContactOptOut.objects.create(
            contact=contact, opted_out_at=MOMENT - 3 * HOUR, source="preferences_page"
        )
    row = None
    if basis != "no_basis":
        row = LegalBasis.objects.create(
            contact=contact,
            basis="contract",
            explanation="Sending the signed contract",
            one_time=basis == "one_time",
            recorded_at=MOMENT + HOUR if basis == "recorded_after_moment" else MOMENT - HOUR,
            revoked_at=MOMENT - HOUR / 2 if basis == "revoked" else None,
        )
    return contact, row


@pytest.mark.parametrize(
    "setting,one_to_one,global_opt_out,basis,context",
    list(itertools.product(SETTINGS, ONE_TO_ONE, GLOBAL_OPT_OUT, BASES, CONTEXTS)),
    ids="-".join,
)
def test_check_over_every_combination(owner, setting, one_to_one, global_opt_out, basis, context):
    contact, row = arrange(owner, setting, one_to_one, global_opt_out, basis)
    one_time = row if basis == "one_time" else None

    decision = can_email(contact, context, at=MOMENT, one_time_basis=one_time)

    allowed, reason, fixes = expected(setting, one_to_one, global_opt_out, basis, context)
    assert (decision.allowed, decision.reason, decision.fixes) == (allowed, reason, fixes)
    assert decision.message
    assert decision.one_time_basis_id == (row.pk if reason == "one_time_basis" else None)


def test_every_combination_is_covered():
    combos = list(itertools.product(SETTINGS, ONE_TO_ONE, GLOBAL_OPT_OUT, BASES, CONTEXTS))
    assert len(combos) == 2 * 3 * 2 * 5 * 4
    assert set(CONTEXTS) == set(SenderContext.values)


def test_check_only_reads(owner, gdpr_on):
    contact, row = arrange(owner, "privacy_on", "not_specified", "not_opted_out_all", "one_time")
    with CaptureQueriesContext(connection) as ctx:
        decision = can_email(contact, "one_to_one", at=MOMENT, one_time_basis=row.pk)
    assert decision.allowed
    assert all(q["sql"].lstrip().upper().startswith("SELECT") for q in ctx.captured_queries)
    row.refresh_from_db()
    assert row.consumed_at is None


def test_no_settings_row_means_privacy_off(owner):
    PrivacySettings.objects.all().delete()
    contact = ContactFactory(owner=owner)
    assert can_email(contact, "one_to_one").reason == "privacy_off"
    assert not PrivacySettings.objects.exists()


def test_one_time_basis_given_as_a_form_value(owner, gdpr_on):
    contact, row = arrange(owner, "privacy_on", "not_specified", "not_opted_out_all", "one_time")
    assert can_email(contact, "one_to_one", at=MOMENT, one_time_basis=str(row.pk)).allowed
    refused = can_email(contact, "one_to_one", at=MOMENT, one_time_basis="not-a-number")
    assert (refused.allowed, refused.basis_problem) == (False, BasisProblem.NOT_FOUND)


def test_one_time_basis_of_another_contact_does_not_count(owner, gdpr_on):
    _, theirs = arrange(owner, "privacy_on", "not_specified", "not_opted_out_all", "one_time")
    mine = ContactFactory(owner=owner)
    decision = can_email(mine, "one_to_one", at=MOMENT, one_time_basis=theirs)
    assert (decision.allowed, decision.basis_problem) == (False, BasisProblem.NOT_FOUND)


def test_standing_basis_is_not_a_one_time_basis(owner, gdpr_on):
    contact = ContactFactory(owner=owner)
    standing = LegalBasis.objects.create(
        contact=contact, basis="consent", explanation="Form", recorded_at=MOMENT + HOUR
    )
    decision = can_email(contact, "one_to_one", at=MOMENT, one_time_basis=standing)
    assert (decision.allowed, decision.basis_problem) == (False, BasisProblem.NOT_FOUND)


@pytest.mark.parametrize(
    "change,problem",
    [
        ({"revoked_at": MOMENT - HOUR / 2}, BasisProblem.REVOKED),
        ({"recorded_at": MOMENT + HOUR}, BasisProblem.RECORDED_AFTER),
        ({"consumed_at": MOMENT - HOUR / 2, "consumed_for": "<other@x>"}, BasisProblem.CONSUMED),
    ],
)
def test_one_time_basis_that_no_longer_counts_says_why(owner, gdpr_on, change, problem):
    contact, row = arrange(owner, "privacy_on", "not_specified", "not_opted_out_all", "one_time")
    LegalBasis.objects.filter(pk=row.pk).update(**change)
    row.refresh_from_db()
    decision = can_email(contact, "one_to_one", at=MOMENT, one_time_basis=row, message_ref="<m@x>")
    assert (decision.allowed, decision.reason, decision.basis_problem) == (
        False,
        "no_legal_basis",
        problem,
    )
    assert decision.fixes == ALL_FIXES


def test_consumed_basis_still_covers_its_own_message(owner, gdpr_on):
    contact, row = arrange(owner, "privacy_on", "not_specified", "not_opted_out_all", "one_time")
    LegalBasis.objects.filter(pk=row.pk).update(consumed_at=MOMENT, consumed_for="<m@x>")
    row.refresh_from_db()
    assert can_email(contact, "one_to_one", one_time_basis=row, message_ref="<m@x>").allowed
    assert not can_email(contact, "one_to_one", one_time_basis=row).allowed


@pytest.mark.parametrize("opt_out", ["all", "one_to_one"])
def test_opt_out_after_the_one_time_basis_voids_it(owner, opt_out):
    contact, row = arrange(owner, "privacy_off", "not_specified", "not_opted_out_all", "one_time")
    if opt_out == "all":
        ContactOptOut.objects.create(contact=contact, opted_out_at=MOMENT, source="one_click")
    else:
        SubscriptionStatus.objects.create(
            contact=contact,
            subscription_type=SubscriptionType.builtin(SubscriptionKind.ONE_TO_ONE),
            status="opted_out",
            updated_at=MOMENT,
        )
    decision = can_email(contact, "one_to_one", at=MOMENT + HOUR, one_time_basis=row)
    assert (decision.allowed, decision.reason, decision.basis_problem) == (
        False,
        "opted_out",
        BasisProblem.OPTED_OUT_AFTER,
    )
    assert decision.fixes == ("one_time_basis",)


def test_explicit_not_specified_row_is_like_no_row(owner, gdpr_on, one_to_one):
    contact = ContactFactory(owner=owner)
    SubscriptionStatus.objects.create(
        contact=contact, subscription_type=one_to_one, status="not_specified"
    )
    assert can_email(contact, "one_to_one").reason == "no_legal_basis"


def test_opt_out_of_another_type_does_not_stop_one_to_one(owner, gdpr_on, newsletter):
    contact = ContactFactory(owner=owner)
    SubscriptionStatus.objects.create(
        contact=contact, subscription_type=newsletter, status="opted_out"
    )
    decision = can_email(contact, "one_to_one")
    assert decision.reason == "no_legal_basis" and "add_subscription" in decision.fixes


def test_unknown_context_is_an_error(owner):
    with pytest.raises(ValueError):
        can_email(ContactFactory(owner=owner), "carrier_pigeon")


def test_many_contacts_in_a_constant_number_of_queries(owner, gdpr_on, one_to_one):
    contacts = [ContactFactory(owner=owner) for _ in range(6)]
    SubscriptionStatus.objects.create(
        contact=contacts[0], subscription_type=one_to_one, status="subscribed"
    )
    ContactOptOut.objects.create(contact=contacts[1], source="rep")
    with CaptureQueriesContext(connection) as ctx:
        decisions = can_email_many(contacts, "sequence")
    assert len(ctx.captured_queries) == 2
    assert [decisions[c.pk].reason for c in contacts[:3]] == [
        "subscribed",
        "opted_out",
        "no_legal_basis",
    ]
    for contact in contacts:
        single = can_email(contact, "sequence")
        assert (single.allowed, single.reason) == (
            decisions[contact.pk].allowed,
            decisions[contact.pk].reason,
        )
