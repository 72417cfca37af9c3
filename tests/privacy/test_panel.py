"""The record page's "Communication preferences" panel and the composer's check fragments."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from privacy.constants import EventKind
from privacy.models import ContactOptOut, LegalBasis, PrivacyEvent, SubscriptionStatus
from privacy.services import legal_basis_record, one_time_basis_record, opt_out_of_all
from tests.factories import ContactFactory, DealFactory

HTMX = {"HTTP_HX_REQUEST": "true"}


def panel_gets(contact):
    base = f"/records/contacts/{contact.pk}/privacy/"
    return [base, base + "check/?context=one_to_one"]


def panel_posts(contact, basis, one_to_one):
    base = f"/records/contacts/{contact.pk}/privacy/"
    good_basis = {"basis-basis": "consent", "basis-explanation": "Asked us to"}
    return [
        (base + "bases/", good_basis),
        (base + f"bases/{basis.pk}/revoke/", {}),
        (base + "subscriptions/", {"subscription_type": one_to_one.pk, "status": "opted_out"}),
        (base + "opt-out/", {}),
        (
            base + "check/subscribe/",
            {"context": "one_to_one", "sub-legal_basis": "consent", "sub-explanation": "Yes"},
        ),
        (
            base + "check/one-time-basis/",
            {"context": "one_to_one", "once-basis": "contract", "once-explanation": "Invoice"},
        ),
        (
            base + "check/legal-basis/",
            {"context": "sequence", "standing-basis": "consent", "standing-explanation": "Yes"},
        ),
    ]


def state(contact):
    return (
        list(LegalBasis.objects.filter(contact=contact).values_list("pk", "revoked_at")),
        list(SubscriptionStatus.objects.filter(contact=contact).values_list("status")),
        ContactOptOut.objects.filter(contact=contact).exists(),
    )


@pytest.fixture
def basis(owner, contact):
    return legal_basis_record(contact, owner, "legitimate_interest_client", "Bought in 2024")


def test_record_page_shows_the_panel_for_contacts_only(client, owner, contact, basis):
    client.force_login(owner)
    page = client.get(f"/records/contacts/{contact.pk}/").content.decode()
    assert 'id="privacy-panel"' in page
    assert "Legitimate interest – existing customer" in page and "Bought in 2024" in page
    assert "One to one" in page and "Legal basis recorded" in page  # history
    deal = DealFactory(owner=owner)
    assert 'id="privacy-panel"' not in client.get(f"/records/deals/{deal.pk}/").content.decode()


def test_outsider_gets_404_everywhere_and_changes_nothing(
    client, outsider, contact, basis, one_to_one
):
    before = state(contact)
    client.force_login(outsider)
    for url in panel_gets(contact):
        assert client.get(url).status_code == 404, url
    for url, data in panel_posts(contact, basis, one_to_one):
        assert client.post(url, data, **HTMX).status_code == 404, url
    assert state(contact) == before


def test_view_only_seat_sees_but_cannot_change(client, viewer, contact, basis, one_to_one):
    before = state(contact)
    client.force_login(viewer)
    for url in panel_gets(contact):
        assert client.get(url).status_code == 200, url
    page = client.get(f"/records/contacts/{contact.pk}/").content.decode()
    assert 'id="privacy-panel"' in page and "Record legal basis" not in page
    for url, data in panel_posts(contact, basis, one_to_one):
        assert client.post(url, data, **HTMX).status_code == 403, url
    assert state(contact) == before


def test_anonymous_is_sent_to_login(client, contact):
    response = client.get(f"/records/contacts/{contact.pk}/privacy/")
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_teammate_records_a_legal_basis_with_htmx(client, teammate, contact):
    client.force_login(teammate)
    response = client.post(
        f"/records/contacts/{contact.pk}/privacy/bases/",
        {"basis-basis": "consent", "basis-explanation": "Ticked the box at the fair"},
        **HTMX,
    )
    body = response.content.decode()
    assert response.status_code == 200 and body.lstrip().startswith('<section id="privacy-panel"')
    assert "Ticked the box at the fair" in body and "Legal basis recorded." in body
    basis = LegalBasis.objects.get(contact=contact)
    assert (basis.recorded_by, basis.one_time) == (teammate, False)


def test_legal_basis_without_explanation_is_refused_in_the_panel(client, owner, contact):
    client.force_login(owner)
    response = client.post(
        f"/records/contacts/{contact.pk}/privacy/bases/",
        {"basis-basis": "consent", "basis-explanation": "  "},
        **HTMX,
    )
    assert "This field is required" in response.content.decode()
    assert not LegalBasis.objects.exists()


def test_plain_form_post_returns_to_the_record_page(client, owner, contact):
    client.force_login(owner)
    response = client.post(
        f"/records/contacts/{contact.pk}/privacy/bases/",
        {"basis-basis": "contract", "basis-explanation": "Signed"},
    )
    assert response.status_code == 302
    assert response["Location"] == f"/records/contacts/{contact.pk}/"


def test_panel_does_not_offer_to_subscribe_an_opted_out_contact(client, owner, contact):
    opt_out_of_all(contact, source="preferences_page")
    client.force_login(owner)
    body = client.get(f"/records/contacts/{contact.pk}/privacy/").content.decode()
    assert "Opted out of all email" in body and "Subscribe to One to one" not in body
    assert "Opt out of all email (contact&#x27;s request)" not in body


def test_rep_cannot_subscribe_an_opted_out_contact_through_the_panel(
    client, owner, contact, one_to_one
):
    opt_out_of_all(contact, source="preferences_page")
    client.force_login(owner)
    response = client.post(
        f"/records/contacts/{contact.pk}/privacy/subscriptions/",
        {
            "subscription_type": one_to_one.pk,
            "status": "subscribed",
            "legal_basis": "consent",
            "explanation": "They said so",
        },
        **HTMX,
    )
    assert "Only they can subscribe again" in response.content.decode()
    assert not SubscriptionStatus.objects.filter(status="subscribed").exists()


def test_rep_opts_a_contact_out_on_their_request(client, owner, contact):
    client.force_login(owner)
    client.post(f"/records/contacts/{contact.pk}/privacy/opt-out/", **HTMX)
    opt_out = ContactOptOut.objects.get(contact=contact)
    assert (opt_out.source, opt_out.actor) == ("rep", owner)


def test_revoking_a_basis_of_another_contact_is_404(client, owner, contact):
    other = ContactFactory(owner=owner)
    theirs = legal_basis_record(other, owner, "consent", "Form")
    client.force_login(owner)
    url = f"/records/contacts/{contact.pk}/privacy/bases/{theirs.pk}/revoke/"
    assert client.post(url).status_code == 404
    theirs.refresh_from_db()
    assert theirs.revoked_at is None


def test_record_page_query_count_does_not_grow_with_privacy_history(owner):
    small, large = ContactFactory(owner=owner), ContactFactory(owner=owner)
    legal_basis_record(small, owner, "consent", "Once")
    for i in range(15):
        legal_basis_record(large, owner, "consent", f"Basis {i}")
        one_time_basis_record(large, owner, "contract", f"Invoice {i}")
    opt_out_of_all(large, source="rep", actor=owner)
    client = Client()
    client.force_login(owner)

    def queries(contact):
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(f"/records/contacts/{contact.pk}/").status_code == 200
        return len(ctx.captured_queries)

    queries(small)  # warm the settings row and caches
    assert queries(small) == queries(large)


# The composer's fragments.


def check(client, contact, query="context=one_to_one"):
    return client.get(f"/records/contacts/{contact.pk}/privacy/check/?{query}", **HTMX)


def test_check_fragment_offers_both_fixes_without_a_basis(client, owner, contact, gdpr_on):
    client.force_login(owner)
    body = check(client, contact).content.decode()
    assert body.lstrip().startswith('<div id="privacy-check"')
    assert "You can't send this email yet" in body
    assert "Add subscription" in body and "Provide a one-time legal basis" in body


def test_check_fragment_hides_add_subscription_once_opted_out(client, owner, contact):
    opt_out_of_all(contact, source="preferences_page")
    client.force_login(owner)
    body = check(client, contact).content.decode()
    assert "Provide a one-time legal basis" in body and "Add subscription" not in body


def test_check_fragment_says_go_when_allowed(client, owner, contact):
    client.force_login(owner)
    body = check(client, contact).content.decode()
    assert 'data-allowed="true"' in body and "fix" not in body.lower()


def test_one_time_basis_fix_returns_its_id_for_the_composer(client, owner, contact, gdpr_on):
    client.force_login(owner)
    response = client.post(
        f"/records/contacts/{contact.pk}/privacy/check/one-time-basis/",
        {
            "context": "one_to_one",
            "form": "composer",
            "once-basis": "contract",
            "once-explanation": "Sending the signed contract",
        },
        **HTMX,
    )
    basis = LegalBasis.objects.get(contact=contact, one_time=True)
    body = response.content.decode()
    assert 'data-allowed="true"' in body and "You can continue" in body
    assert f'<input type="hidden" name="one_time_basis" value="{basis.pk}" form="composer">' in body
    assert basis.consumed_at is None  # consumed by the send, not by the fix
    # The composer can re-check with the basis it now holds.
    again = check(client, contact, f"context=one_to_one&one_time_basis={basis.pk}")
    assert 'data-allowed="true"' in again.content.decode()


def test_one_time_basis_fix_without_explanation_is_refused(client, owner, contact, gdpr_on):
    client.force_login(owner)
    response = client.post(
        f"/records/contacts/{contact.pk}/privacy/check/one-time-basis/",
        {"context": "one_to_one", "once-basis": "contract", "once-explanation": ""},
        **HTMX,
    )
    body = response.content.decode()
    assert 'data-allowed="false"' in body and "This field is required" in body
    assert not LegalBasis.objects.exists()
    assert not PrivacyEvent.objects.filter(kind=EventKind.ONE_TIME_BASIS_RECORDED).exists()


def test_add_subscription_fix_subscribes_to_one_to_one(client, owner, contact, gdpr_on):
    client.force_login(owner)
    response = client.post(
        f"/records/contacts/{contact.pk}/privacy/check/subscribe/",
        {"context": "one_to_one", "sub-legal_basis": "consent", "sub-explanation": "On the call"},
        **HTMX,
    )
    assert 'data-reason="subscribed"' in response.content.decode()
    row = SubscriptionStatus.objects.get(contact=contact)
    assert (row.subscription_type.kind, row.status, row.updated_by) == (
        "one_to_one",
        "subscribed",
        owner,
    )


def test_add_subscription_fix_is_refused_for_an_opted_out_contact(client, owner, contact):
    opt_out_of_all(contact, source="preferences_page")
    client.force_login(owner)
    response = client.post(
        f"/records/contacts/{contact.pk}/privacy/check/subscribe/",
        {"context": "one_to_one", "sub-legal_basis": "consent", "sub-explanation": "Sure"},
        **HTMX,
    )
    assert "Only they can subscribe again" in response.content.decode()
    assert not SubscriptionStatus.objects.exists()


def test_sequence_check_offers_a_standing_basis_not_a_one_time_one(client, owner, contact, gdpr_on):
    client.force_login(owner)
    body = check(client, contact, "context=sequence").content.decode()
    assert "Record a legal basis" in body and "one-time" not in body
    response = client.post(
        f"/records/contacts/{contact.pk}/privacy/check/legal-basis/",
        {"context": "sequence", "standing-basis": "consent", "standing-explanation": "Form"},
        **HTMX,
    )
    assert 'data-reason="legal_basis"' in response.content.decode()


def test_check_rejects_an_unknown_context_and_form_id(client, owner, contact):
    client.force_login(owner)
    assert check(client, contact, "context=fax").status_code == 400
    body = check(client, contact, 'context=one_to_one&form="><script>').content.decode()
    assert "<script>" not in body
