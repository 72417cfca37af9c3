"""Delivery reports from the corpus, applied to emails the CRM sent: bounced hard or soft with
the reason, bad addresses flagged on the contact, complaints turned into opt-outs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from mailboxes.bounces.panel import bounced_addresses
from mailboxes.bounces.processing import REASON_WORDS, process_report
from mailboxes.bounces.reports import Bounce, Feedback, parse_bounce
from mailboxes.constants import Direction
from mailboxes.models import BouncedAddress, EmailMessage, EmailThread, Mailbox
from privacy.models import ContactOptOut
from tests.factories import ContactFactory

from .corpus import CORPUS, bounce_expectations, corpus_files, file_id

EXPECTATIONS = bounce_expectations()
BOUNCE_FILES = [file_id(path) for path in corpus_files("bounces")]
HARD_FILE = "bounces/sisimai__bsd_lhost-powermta-02.eml"  # kijitora@example.com, unknown
SOFT_FILE = "bounces/sisimai__bsd_lhost-gmail-04.eml"  # the same address, blocked


@pytest.fixture
def inbox(owner):
    return Mailbox.objects.create(
        kind="personal", provider="imap", email="rep@crm.example", owner=owner, config={}
    )


def sent_email(inbox, *, message_id="", to=("someone@else.example",), days_ago=1.0, **fields):
    """An email sent from the CRM `days_ago` days ago."""
    thread = EmailThread.objects.create(subject="Quote")
    return EmailMessage.objects.create(
        mailbox=inbox,
        thread=thread,
        direction=fields.pop("direction", Direction.OUTGOING),
        message_id=message_id,
        from_addr=inbox.email,
        to_addrs=list(to),
        subject=fields.pop("subject", "Quote for you"),
        sent_at=timezone.now() - timedelta(days=days_ago),
        **fields,
    )


def expected_kind(key: str, report: Bounce) -> str:
    failed = [r for r in report.recipients if r.action == "failed"]
    expectation = EXPECTATIONS[key]
    hard = any(expectation.hard) if expectation.kind == "sisimai" else any(r.hard for r in failed)
    return "hard" if hard else "soft"


@pytest.mark.django_db
@pytest.mark.parametrize("key", BOUNCE_FILES)
def test_corpus_report_marks_the_email_it_is_about(key, inbox, owner):
    raw = (CORPUS / key).read_bytes()
    report = parse_bounce(raw)

    if report is None:
        email = sent_email(inbox)
        assert process_report(inbox, raw) is None
        email.refresh_from_db()
        assert email.bounce == ""
        return

    if isinstance(report, Feedback):
        email = sent_email(inbox, message_id=report.original_message_id or "")
        contact = ContactFactory(owner=owner, emails=list(report.recipients) or ["x@y.example"])
        email.contacts.add(contact)
        result = process_report(inbox, raw)
        assert contact.name in result
        opt_out = ContactOptOut.objects.get(contact=contact)
        assert opt_out.source == ("spam_report" if report.feedback_type == "abuse" else "one_click")
        return

    failed = [r for r in report.recipients if r.action == "failed"]
    if report.original_message_id:
        # Matched by Message-ID, although it went to an address the report does not name.
        email = sent_email(inbox, message_id=report.original_message_id)
    else:
        email = sent_email(inbox, to=[r.address for r in failed][:1] or ["nobody@x.example"])
        # An older email to the same address, past the 30-day window, is not the one.
        sent_email(inbox, to=email.to_addrs, days_ago=45, subject="Older")

    result = process_report(inbox, raw)

    email.refresh_from_db()
    if not failed:
        assert "delayed" in result and email.bounce == ""
        assert not BouncedAddress.objects.exists()
        return
    assert email.bounce == expected_kind(key, report), result
    assert str(REASON_WORDS[failed[0].reason]) in email.bounce_reason
    assert failed[0].address in email.bounce_reason
    assert result.startswith(email.bounce.capitalize() + " bounce of \u201cQuote for you\u201d")
    hard = {r.address.lower() for r in failed if r.hard}
    assert set(BouncedAddress.objects.values_list("address", flat=True)) == hard
    assert all(b.message_id == email.pk for b in BouncedAddress.objects.all())


@pytest.mark.django_db
def test_report_about_an_email_the_crm_did_not_send_changes_nothing(inbox):
    raw = (CORPUS / HARD_FILE).read_bytes()
    received = sent_email(
        inbox, message_id=parse_bounce(raw).original_message_id, direction=Direction.INCOMING
    )

    result = process_report(inbox, raw)

    assert "no email sent from the CRM matches it" in result
    received.refresh_from_db()
    assert received.bounce == ""
    assert not BouncedAddress.objects.exists()


@pytest.mark.django_db
def test_a_later_soft_bounce_does_not_downgrade_a_hard_one(inbox):
    hard_raw, soft_raw = (CORPUS / HARD_FILE).read_bytes(), (CORPUS / SOFT_FILE).read_bytes()
    assert parse_bounce(hard_raw).recipients[0].hard
    assert not any(r.hard for r in parse_bounce(soft_raw).recipients)
    # The soft report's Message-ID matches nothing: it finds the email by the address.
    email = sent_email(
        inbox,
        message_id=parse_bounce(hard_raw).original_message_id,
        to=[parse_bounce(soft_raw).recipients[0].address],
    )

    process_report(inbox, hard_raw)
    reason = EmailMessage.objects.get(pk=email.pk).bounce_reason
    assert "Soft bounce" in process_report(inbox, soft_raw)

    email.refresh_from_db()
    assert (email.bounce, email.bounce_reason) == ("hard", reason)


@pytest.mark.django_db
def test_a_bounce_in_another_inbox_still_finds_the_email(inbox, admin_user):
    other = Mailbox.objects.create(
        kind="personal", provider="imap", email="other@crm.example", owner=admin_user, config={}
    )
    raw = (CORPUS / HARD_FILE).read_bytes()
    email = sent_email(inbox, message_id=parse_bounce(raw).original_message_id)

    process_report(other, raw)

    email.refresh_from_db()
    assert email.bounce == "hard"


@pytest.mark.django_db
def test_complaint_about_an_email_the_crm_did_not_send_opts_nobody_out(inbox, owner):
    raw = (CORPUS / "bounces/mimekit__messages_feedback-report.eml").read_bytes()
    ContactFactory(owner=owner, emails=["user@example.com"])

    result = process_report(inbox, raw)

    assert "not sent from the CRM" in result
    assert not ContactOptOut.objects.exists()


# -- the contact's record page ----------------------------------------------------------------


def _bounce(address: str, email: EmailMessage, reason: str) -> BouncedAddress:
    return BouncedAddress.objects.create(address=address, reason=reason, message=email)


@pytest.mark.django_db
def test_contact_page_shows_bounced_addresses_in_a_constant_number_of_queries(
    client, admin_user, owner, inbox
):
    email = sent_email(inbox, subject="Renewal")
    one = ContactFactory(owner=owner, emails=["ana@acme.example", "ana@home.example"])
    three = ContactFactory(
        owner=owner, emails=["bo@acme.example", "bo@home.example", "bo@old.example"]
    )
    _bounce("ana@home.example", email, "ana@home.example: the address does not exist (5.1.1)")
    for address in three.emails.values_list("address", flat=True):
        _bounce(address, email, f"{address}: the address does not exist")
    client.force_login(admin_user)

    def page(contact):
        url = reverse("records:detail", kwargs={"type_slug": "contacts", "pk": contact.pk})
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        assert response.status_code == 200
        return response.content.decode(), len(queries)

    html_one, queries_one = page(one)
    html_three, queries_three = page(three)

    assert "Email bounces" in html_one
    assert "ana@home.example: the address does not exist (5.1.1)" in html_one
    assert "\u201cRenewal\u201d" in html_one
    assert html_three.count('class="badge danger">bounced<') == 3
    assert queries_one == queries_three
    assert [b.address for b in bounced_addresses(one)] == ["ana@home.example"]


@pytest.mark.django_db
def test_contact_without_bounces_shows_no_panel(client, admin_user, contact):
    client.force_login(admin_user)
    url = reverse("records:detail", kwargs={"type_slug": "contacts", "pk": contact.pk})

    assert "Email bounces" not in client.get(url).content.decode()
