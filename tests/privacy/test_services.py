"""Services: send authorization with its audit trail, legal bases, subscriptions, opt-outs."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from privacy.constants import BasisProblem, EventKind, SubscriptionKind
from privacy.models import (
    ContactOptOut,
    LegalBasis,
    PrivacyEvent,
    SubscriptionStatus,
    SubscriptionType,
)
from privacy.services import (
    authorize_send,
    legal_basis_record,
    legal_basis_revoke,
    one_time_basis_record,
    opt_out_of_all,
    preferences_update,
    privacy_settings_update,
    subscription_set,
    subscription_type_delete,
    subscription_type_save,
)


def events(kind):
    return list(PrivacyEvent.objects.filter(kind=kind).order_by("pk"))


def test_one_time_basis_covers_one_message_only(owner, contact, gdpr_on):
    basis = one_time_basis_record(contact, owner, "contract", "Sending the contract they signed")

    first = authorize_send(
        contact, "one_to_one", actor=owner, message_ref="<m1@crm>", one_time_basis=basis.pk
    )
    basis.refresh_from_db()
    assert (first.allowed, first.reason, first.one_time_basis_id) == (
        True,
        "one_time_basis",
        basis.pk,
    )
    assert basis.consumed_for == "<m1@crm>" and basis.consumed_at is not None

    # The send-time re-check of the same message is allowed again and audited once.
    again = authorize_send(
        contact, "one_to_one", actor=None, message_ref="<m1@crm>", one_time_basis=basis.pk
    )
    assert again.allowed
    [allowed] = events(EventKind.SEND_ALLOWED_ONE_TIME)
    assert (allowed.contact, allowed.actor, allowed.message_ref) == (contact, owner, "<m1@crm>")
    assert allowed.details["explanation"] == "Sending the contract they signed"

    second = authorize_send(
        contact, "one_to_one", actor=owner, message_ref="<m2@crm>", one_time_basis=basis.pk
    )
    assert (second.allowed, second.reason, second.basis_problem) == (
        False,
        "no_legal_basis",
        BasisProblem.CONSUMED,
    )
    [refused] = events(EventKind.SEND_REFUSED)
    assert (refused.message_ref, refused.reason) == ("<m2@crm>", "no_legal_basis")
    assert refused.details["basis_problem"] == "consumed"


def test_allowed_sends_without_a_one_time_basis_leave_no_audit_entry(owner, contact):
    decision = authorize_send(contact, "one_to_one", actor=owner, message_ref="<m@crm>")
    assert decision.reason == "privacy_off"
    assert not PrivacyEvent.objects.exists()


def test_standing_basis_wins_and_the_one_time_basis_is_kept(owner, contact, gdpr_on):
    legal_basis_record(contact, owner, "legitimate_interest_client", "Existing customer")
    once = one_time_basis_record(contact, owner, "contract", "Invoice")
    decision = authorize_send(
        contact, "one_to_one", actor=owner, message_ref="<m@crm>", one_time_basis=once
    )
    once.refresh_from_db()
    assert decision.reason == "legal_basis" and once.consumed_at is None


def test_sequences_never_use_a_one_time_basis(owner, contact, gdpr_on):
    once = one_time_basis_record(contact, owner, "contract", "Invoice")
    decision = authorize_send(
        contact, "sequence", actor=owner, message_ref="<s@crm>", one_time_basis=once.pk
    )
    once.refresh_from_db()
    assert (decision.allowed, decision.reason) == (False, "no_legal_basis")
    assert once.consumed_at is None
    assert events(EventKind.SEND_REFUSED)[0].sender_context == "sequence"


@pytest.mark.parametrize("explanation", ["", "   \n "])
def test_one_time_basis_without_explanation_is_refused(owner, contact, explanation):
    with pytest.raises(ValidationError) as error:
        one_time_basis_record(contact, owner, "contract", explanation)
    assert "explanation" in error.value.message_dict
    assert "Explain why" in error.value.message_dict["explanation"][0]
    assert not LegalBasis.objects.exists() and not PrivacyEvent.objects.exists()


def test_database_refuses_an_unexplained_basis(contact):
    with pytest.raises(IntegrityError), transaction.atomic():
        LegalBasis.objects.create(contact=contact, basis="consent", explanation="")


def test_unknown_legal_basis_is_refused(owner, contact):
    with pytest.raises(ValidationError) as error:
        legal_basis_record(contact, owner, "because", "We like them")
    assert "basis" in error.value.message_dict


def test_send_time_recheck_refuses_a_contact_who_opted_out_meanwhile(owner, contact, gdpr_on):
    one_to_one = SubscriptionType.builtin(SubscriptionKind.ONE_TO_ONE)
    subscription_set(
        contact, one_to_one, "subscribed", actor=owner, legal_basis="consent", explanation="Form"
    )
    at_submit = authorize_send(contact, "one_to_one", actor=owner, message_ref="<later@crm>")
    assert (at_submit.allowed, at_submit.reason) == (True, "subscribed")

    opt_out_of_all(contact, source="preferences_page")

    at_send = authorize_send(contact, "one_to_one", actor=None, message_ref="<later@crm>")
    assert (at_send.allowed, at_send.reason) == (False, "opted_out")
    assert "opted out of all email" in at_send.message
    [refused] = events(EventKind.SEND_REFUSED)
    assert (refused.contact, refused.message_ref, refused.reason, refused.sender_context) == (
        contact,
        "<later@crm>",
        "opted_out",
        "one_to_one",
    )
    assert refused.details["message"] == at_send.message


def test_send_time_recheck_voids_a_one_time_basis_after_an_opt_out(owner, contact, gdpr_on):
    once = one_time_basis_record(contact, owner, "contract", "Sending the quote")
    at_submit = authorize_send(
        contact, "one_to_one", actor=owner, message_ref="<q@crm>", one_time_basis=once.pk
    )
    assert at_submit.allowed

    opt_out_of_all(contact, source="one_click")

    at_send = authorize_send(
        contact, "one_to_one", actor=None, message_ref="<q@crm>", one_time_basis=once.pk
    )
    assert (at_send.allowed, at_send.reason, at_send.basis_problem) == (
        False,
        "opted_out",
        BasisProblem.OPTED_OUT_AFTER,
    )
    assert [e.reason for e in events(EventKind.SEND_REFUSED)] == ["opted_out"]


def test_globally_opted_out_contact_needs_a_one_time_basis_even_with_privacy_off(owner, contact):
    opt_out_of_all(contact, source="rep", actor=owner)
    refused = authorize_send(contact, "one_to_one", actor=owner, message_ref="<a@crm>")
    assert (refused.allowed, refused.fixes) == (False, ("one_time_basis",))
    once = one_time_basis_record(contact, owner, "legal_obligation", "Statutory notice")
    allowed = authorize_send(
        contact, "one_to_one", actor=owner, message_ref="<a@crm>", one_time_basis=once
    )
    assert allowed.allowed
    ticket = authorize_send(contact, "ticket_reply", actor=owner, message_ref="<t@crm>")
    assert (ticket.allowed, ticket.reason) == (True, "transactional")


def test_authorize_send_needs_the_message_reference(owner, contact):
    with pytest.raises(ValueError):
        authorize_send(contact, "one_to_one", actor=owner, message_ref="")


def test_revoked_basis_stops_counting(owner, contact, gdpr_on):
    basis = legal_basis_record(contact, owner, "consent", "Signed up at the fair")
    assert authorize_send(contact, "sequence", actor=owner, message_ref="<1@crm>").allowed
    legal_basis_revoke(basis, actor=owner)
    legal_basis_revoke(basis, actor=owner)  # twice changes nothing
    assert not authorize_send(contact, "sequence", actor=owner, message_ref="<2@crm>").allowed
    assert len(events(EventKind.BASIS_REVOKED)) == 1


@pytest.mark.parametrize("opt_out", ["all", "type"])
def test_rep_cannot_resubscribe_an_opted_out_contact(owner, contact, one_to_one, opt_out):
    if opt_out == "all":
        opt_out_of_all(contact, source="preferences_page")
    else:
        subscription_set(contact, one_to_one, "opted_out", actor=None, by_contact=True)
    with pytest.raises(ValidationError, match="Only they can subscribe again"):
        subscription_set(
            contact, one_to_one, "subscribed", actor=owner, legal_basis="consent", explanation="x"
        )
    assert not SubscriptionStatus.objects.filter(status="subscribed").exists()


def test_rep_cannot_clear_an_opt_out(owner, contact, one_to_one):
    subscription_set(contact, one_to_one, "opted_out", actor=None, by_contact=True)
    with pytest.raises(ValidationError, match="only they can change that"):
        subscription_set(contact, one_to_one, "not_specified", actor=owner)


def test_contact_can_resubscribe_from_their_preferences(owner, contact, one_to_one, newsletter):
    opt_out_of_all(contact, source="preferences_page")
    changed = preferences_update(contact, {one_to_one.pk})
    assert changed == ["One to one"]
    assert not ContactOptOut.objects.filter(contact=contact).exists()
    row = SubscriptionStatus.objects.get(contact=contact, subscription_type=one_to_one)
    assert (row.status, row.by_contact, row.legal_basis) == ("subscribed", True, "consent")
    assert [e.kind for e in PrivacyEvent.objects.order_by("pk")] == [
        EventKind.OPTED_OUT_ALL,
        EventKind.SUBSCRIPTION_CHANGED,
        EventKind.OPT_OUT_ALL_LIFTED,
    ]
    # Unticking a subscribed type opts out; an unticked "not specified" stays as it was.
    preferences_update(contact, set())
    assert SubscriptionStatus.objects.get(subscription_type=one_to_one).status == "opted_out"
    assert not SubscriptionStatus.objects.filter(subscription_type=newsletter).exists()


def test_rep_subscription_needs_a_legal_basis_when_privacy_is_on(owner, contact, gdpr_on):
    one_to_one = SubscriptionType.builtin(SubscriptionKind.ONE_TO_ONE)
    with pytest.raises(ValidationError) as error:
        subscription_set(contact, one_to_one, "subscribed", actor=owner)
    assert "legal_basis" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        subscription_set(contact, one_to_one, "subscribed", actor=owner, legal_basis="consent")
    assert "explanation" in error.value.message_dict
    row = subscription_set(
        contact,
        one_to_one,
        "subscribed",
        actor=owner,
        legal_basis="consent",
        explanation="Asked for it on the phone",
    )
    assert (row.updated_by, row.legal_basis_explanation) == (owner, "Asked for it on the phone")
    [event] = events(EventKind.SUBSCRIPTION_CHANGED)
    assert (event.details["old"], event.details["new"]) == ("not_specified", "subscribed")


@pytest.mark.parametrize("status", ["subscribed", "opted_out", "not_specified"])
@pytest.mark.parametrize("by_contact", [False, True])
def test_transactional_cannot_be_subscribed_to_or_opted_out_of(
    owner, contact, transactional, status, by_contact
):
    with pytest.raises(ValidationError, match="cannot be subscribed to or opted out of"):
        subscription_set(
            contact,
            transactional,
            status,
            actor=owner,
            legal_basis="consent",
            explanation="x",
            by_contact=by_contact,
        )
    assert not SubscriptionStatus.objects.exists()


def test_opting_out_twice_records_one_event(owner, contact):
    first = opt_out_of_all(contact, source="rep", actor=owner)
    second = opt_out_of_all(contact, source="one_click")
    assert first.pk == second.pk and second.source == "rep"
    assert len(events(EventKind.OPTED_OUT_ALL)) == 1


def test_builtin_types_are_protected(admin_user, one_to_one, transactional):
    one_to_one.is_active = False
    with pytest.raises(ValidationError):
        subscription_type_save(one_to_one, actor=admin_user)
    for builtin in (one_to_one, transactional):
        with pytest.raises(ValidationError, match="cannot be deleted"):
            subscription_type_delete(builtin, actor=admin_user)
    assert SubscriptionType.objects.filter(is_builtin=True).count() == 2


def test_a_type_in_use_is_deactivated_not_deleted(admin_user, contact, newsletter):
    subscription_set(contact, newsletter, "opted_out", actor=None, by_contact=True)
    with pytest.raises(ValidationError, match="deactivate it"):
        subscription_type_delete(newsletter, actor=admin_user)
    newsletter.is_active = False
    subscription_type_save(newsletter, actor=admin_user)
    with pytest.raises(ValidationError, match="no longer in use"):
        subscription_set(contact, newsletter, "subscribed", actor=None, by_contact=True)


def test_settings_change_is_recorded_once(admin_user):
    privacy_settings_update(actor=admin_user, gdpr_enabled=True)
    privacy_settings_update(actor=admin_user, gdpr_enabled=True)
    [event] = events(EventKind.SETTINGS_CHANGED)
    assert event.details == {"gdpr_enabled": True} and event.summary.endswith("on")
