"""The enrollment pages through the test client: single and bulk, tokens, bad input, access,
the record panel, the timeline card and the rep's actions."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from privacy.constants import OptOutSource
from privacy.models import ContactOptOut
from records.models import Activity
from sequences.constants import EndReason, EnrollmentStatus, EventKind
from sequences.enrollment.services import enroll
from sequences.models import Enrollment
from tests.factories import CompanyFactory, ContactFactory

from .enrollment_support import plans

pytestmark = pytest.mark.django_db


def one_url(sequence, contact):
    return reverse("sequences:enroll", args=[sequence.pk]) + f"?contact={contact.pk}"


def shared(inbox, **extra):
    return {
        "start": "0",
        "time_zone": "Europe/Rome",
        "send": "now",
        "sender": f"{inbox.pk}:{inbox.email}",
        "delay_1": "2",
        "delay_2": "3",
        **extra,
    }


def test_the_single_page_shows_the_emails_the_forecast_and_starts_the_sequence(
    rep, sequence, contact, inbox
):
    page = rep.get(one_url(sequence, contact)).content.decode()
    assert "Hello {{ contact.first_name }}" in page
    assert "Step 1:" in page and "Step 2: task due" in page
    assert "Start sequence" in page
    answer = rep.post(
        one_url(sequence, contact),
        {
            **shared(inbox, delay_2="4"),
            "contact": contact.pk,
            "action": "start",
            f"c{contact.pk}-subject_0": "Hello Olivia, from the fair",
            f"c{contact.pk}-body_0": "<p>Hi Olivia!</p>",
            f"c{contact.pk}-task_title_1": "Call Olivia",
        },
    )
    assert answer.status_code == 302
    enrollment = Enrollment.objects.get(contact=contact)
    assert enrollment.overrides == {
        "0": {"subject": "Hello Olivia, from the fair", "body": "<p>Hi Olivia!</p>"},
        "1": {"task_title": "Call Olivia"},
        "2": {"delay_days": 4},
    }
    timeline = rep.get(answer.url).content.decode()
    assert "Trade fair follow-up" in timeline and "Enrolled" in timeline


def test_a_send_later_time_in_the_past_is_refused_beside_the_field_and_input_kept(
    rep, sequence, contact, inbox
):
    past = timezone.localtime(timezone.now() - timedelta(days=1))
    answer = rep.post(
        one_url(sequence, contact),
        {
            **shared(inbox, send="later"),
            "send_date": past.date().isoformat(),
            "send_time": "10:00",
            "contact": contact.pk,
            "action": "start",
            f"c{contact.pk}-subject_0": "Kept subject",
        },
    )
    page = answer.content.decode()
    assert answer.status_code == 200
    assert "in the past" in page and 'value="Kept subject"' in page
    assert not Enrollment.objects.exists()


def test_a_missing_token_is_shown_and_filled_for_this_contact_only(rep, sequence, owner, inbox):
    nameless = ContactFactory(owner=owner, first_name="", last_name="Nobody")
    page = rep.get(one_url(sequence, nameless)).content.decode()
    assert 'class="token-missing"' in page
    answer = rep.post(
        one_url(sequence, nameless),
        {
            **shared(inbox),
            "contact": nameless.pk,
            "action": "start",
            f"c{nameless.pk}-token-contact.first_name": "Sam",
        },
    )
    assert answer.status_code == 302
    enrollment = Enrollment.objects.get(contact=nameless)
    assert enrollment.overrides["0"]["subject"] == "Hello Sam"
    nameless.refresh_from_db()
    assert nameless.first_name == ""


def test_a_contact_the_user_cannot_see_is_not_found(rep, sequence, outsider):
    theirs = ContactFactory(owner=outsider)
    assert rep.get(one_url(sequence, theirs)).status_code == 404


def test_the_contact_picker_searches_among_visible_contacts(rep, sequence, contact, outsider):
    ContactFactory(owner=outsider, first_name="Olga")
    page = rep.get(reverse("sequences:enroll", args=[sequence.pk]) + "?q=ol").content.decode()
    assert "Olivia Owned" in page and "Olga" not in page


def test_an_archived_sequence_is_refused(rep, sequence, contact):
    sequence.archived_at = timezone.now()
    sequence.save()
    answer = rep.get(one_url(sequence, contact))
    assert answer.status_code == 400 and "archived" in answer.content.decode()


def bulk_url(sequence, contacts):
    ids = "&".join(f"contact={c.pk}" for c in contacts)
    return reverse("sequences:enroll-bulk", args=[sequence.pk]) + "?" + ids


def test_bulk_over_the_limit_is_refused_with_a_clear_message(rep, sequence, owner):
    ids = "&".join(f"contact={i}" for i in range(1, 52))
    answer = rep.get(reverse("sequences:enroll-bulk", args=[sequence.pk]) + "?" + ids)
    assert answer.status_code == 400
    assert "At most 50 contacts" in answer.content.decode()


def test_bulk_blocked_contact_removed_then_confirmed(rep, sequence, owner, inbox):
    ann, bob = (
        ContactFactory(owner=owner, first_name="Ann"),
        ContactFactory(owner=owner, first_name="Bob"),
    )
    cat = ContactFactory(owner=owner, first_name="Cat")
    ContactOptOut.objects.create(contact=cat, source=OptOutSource.ONE_CLICK)
    url = bulk_url(sequence, [ann, bob, cat])
    base = {**shared(inbox), "contact": [ann.pk, bob.pk, cat.pk]}
    page = rep.post(url, {**base, "action": "review"}).content.decode()
    assert "opted out" in page and "Fix:" in page
    assert not Enrollment.objects.exists()
    page = rep.post(url, {**base, "remove": cat.pk}).content.decode()
    assert f'name="contact" value="{cat.pk}"' not in page
    base["contact"] = [ann.pk, bob.pk]
    page = rep.post(url, {**base, "action": "review"}).content.decode()
    assert "Enroll 2 contacts in" in page
    answer = rep.post(url, {**base, "action": "enroll"})
    assert answer.status_code == 302
    assert set(Enrollment.objects.values_list("contact_id", flat=True)) == {ann.pk, bob.pk}


def test_update_all_fills_a_token_in_every_contact_that_misses_it(rep, sequence, owner, inbox):
    a = ContactFactory(owner=owner, first_name="", emails=["a@blank.example"])
    b = ContactFactory(owner=owner, first_name="", emails=["b@blank.example"])
    url = bulk_url(sequence, [a, b])
    base = {**shared(inbox), "contact": [a.pk, b.pk]}
    page = rep.post(url, {**base, "action": "preview"}).content.decode()
    assert 'name="all-token-contact.first_name"' in page
    page = rep.post(url, {**base, "all-token-contact.first_name": "friend", "action": "review"})
    assert "Enroll 2 contacts in" in page.content.decode()


def test_the_record_panel_offers_sequences_or_says_there_is_no_contact(
    rep, sequence, owner, contact
):
    company = CompanyFactory(owner=owner)
    url = reverse("sequences:record-enroll", args=["companies", company.pk])
    assert "no associated contact" in rep.get(url, HTTP_HX_REQUEST="true").content.decode()
    url = reverse("sequences:record-enroll", args=["contacts", contact.pk])
    page = rep.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert one_url(sequence, contact).replace("?", "?") in page.replace("&amp;", "&")


def test_the_rep_pauses_resumes_reschedules_and_unenrolls_from_the_card(
    rep, sequence, owner, contact, inbox
):
    (enrollment,) = enroll(owner, sequence, plans([contact]), inbox)

    def act(verb, **data):
        url = reverse("sequences:enrollment-action", args=[enrollment.pk, verb])
        return rep.post(url, {"card": "1", **data}, HTTP_HX_REQUEST="true")

    assert "Resume now" in act("pause").content.decode()
    assert act("resume", when="now").status_code == 200
    yesterday = (timezone.now() - timedelta(days=1)).date().isoformat()
    assert "in the past" in act("reschedule", date=yesterday, time="10:00").content.decode()
    tomorrow = (timezone.now() + timedelta(days=2)).date().isoformat()
    act("reschedule", date=tomorrow, time="10:00")
    act("unenroll")
    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.end_reason) == (EnrollmentStatus.ENDED, EndReason.MANUAL)
    kinds = list(enrollment.events.values_list("kind", flat=True))
    assert kinds == [
        EventKind.ENROLLED,
        EventKind.PAUSED,
        EventKind.RESUMED,
        EventKind.RESCHEDULED,
        EventKind.ENDED,
    ]
    assert Activity.objects.filter(pk=enrollment.activity_id).exists()


def test_another_reps_enrollment_cannot_be_touched(
    client, sequence, owner, contact, inbox, outsider
):
    (enrollment,) = enroll(owner, sequence, plans([contact]), inbox)
    client.force_login(outsider)
    url = reverse("sequences:enrollment-action", args=[enrollment.pk, "unenroll"])
    assert client.post(url).status_code == 404


def test_the_enrollments_page_lists_them_with_their_actions(rep, sequence, owner, contact, inbox):
    enroll(owner, sequence, plans([contact]), inbox)
    page = rep.get(reverse("sequences:enrollments", args=[sequence.pk])).content.decode()
    assert "Olivia Owned" in page and "Pause" in page and "Next:" in page


def test_the_contacts_index_offers_enroll_in_sequence_for_the_selected(rep, sequence, contact):
    page = rep.get(reverse("records:list", args=["contacts"])).content.decode()
    assert f'formaction="{reverse("sequences:pick-sequence")}"' in page
    picked = rep.get(reverse("sequences:pick-sequence") + f"?id={contact.pk}").content.decode()
    assert "1 contact selected" in picked
    assert bulk_url(sequence, [contact]) in picked.replace("&amp;", "&")
    companies = rep.get(reverse("records:list", args=["companies"])).content.decode()
    assert "Enroll in sequence" not in companies


def test_more_than_fifty_selected_on_the_index_are_refused(rep, sequence):
    ids = "&".join(f"id={i}" for i in range(1, 52))
    page = rep.get(reverse("sequences:pick-sequence") + "?" + ids).content.decode()
    assert "At most 50 contacts can be enrolled at once; 51 were chosen" in page


def test_the_sequence_pages_contact_picker_leads_to_bulk_enrollment(rep, sequence, owner, contact):
    other = ContactFactory(owner=owner, first_name="Otto")
    page = rep.get(reverse("sequences:enroll", args=[sequence.pk])).content.decode()
    assert f'action="{reverse("sequences:enroll-bulk", args=[sequence.pk])}"' in page
    page = rep.get(bulk_url(sequence, [contact, other])).content.decode()
    assert "Enroll all 2 contacts" in page


def test_the_bulk_page_takes_as_many_queries_for_ten_contacts_as_for_two(
    rep, sequence, owner, inbox
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    contacts = [ContactFactory(owner=owner) for _ in range(10)]
    counted = []
    for batch in (contacts[:2], contacts):
        with CaptureQueriesContext(connection) as queries:
            assert rep.get(bulk_url(sequence, batch)).status_code == 200
        counted.append(len(queries))
    assert counted[0] == counted[1]


def test_a_view_only_seat_cannot_enroll(client, viewer, sequence, contact):
    client.force_login(viewer)
    assert client.get(one_url(sequence, contact)).status_code == 403
    assert client.get(reverse("sequences:pick-sequence")).status_code == 403
    page = client.get(reverse("records:detail", args=["contacts", contact.pk])).content.decode()
    assert "Enroll in sequence" not in page


def test_one_contact_of_a_batch_is_enrolled_alone_and_the_rest_stay(rep, sequence, owner, inbox):
    ann, bob = ContactFactory(owner=owner), ContactFactory(owner=owner)
    url = bulk_url(sequence, [ann, bob])
    page = rep.post(url, {**shared(inbox), "contact": [ann.pk, bob.pk], "enroll_one": ann.pk})
    text = page.content.decode()
    assert f"{ann.name} is enrolled in" in text
    assert f'name="contact" value="{ann.pk}"' not in text
    assert f'name="contact" value="{bob.pk}"' in text and "Enroll 1 contact" in text
    assert list(Enrollment.objects.values_list("contact_id", flat=True)) == [ann.pk]


def test_the_confirmation_says_how_many_emails_wait_for_the_daily_limit(
    rep, sequence, owner, inbox
):
    inbox.send_per_day = 1
    inbox.save()
    ann, bob = ContactFactory(owner=owner), ContactFactory(owner=owner)
    url = bulk_url(sequence, [ann, bob])
    page = rep.post(url, {**shared(inbox), "contact": [ann.pk, bob.pk], "action": "review"})
    text = page.content.decode()
    assert "Enroll 2 contacts in" in text
    # Bob's first email waits for Ann's. How many later steps collide too depends on the hour
    # and weekday the test runs (after hours, both start on the next business day and their
    # third steps meet again): the summary counts what the forecasts mark.
    waiting = text.count("waits for the daily limit")
    assert waiting >= 1
    emails = "1 email will" if waiting == 1 else f"{waiting} emails will"
    assert f"{emails} wait for the From inbox's daily limit" in text


def test_the_contacts_own_time_zone_is_offered_first(rep, sequence, owner):
    traveller = ContactFactory(owner=owner, properties={"time_zone": "Asia/Tokyo"})
    page = rep.get(one_url(sequence, traveller)).content.decode()
    assert '<option value="Asia/Tokyo" selected>' in page
    assert "own zone: Asia/Tokyo" in page
