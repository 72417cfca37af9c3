"""records.timeline: the registry of activity kinds and the one way to write on timelines."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from records import extensions, timeline
from records.constants import ActivityKind
from records.models import Activity, ActivityLink
from records.selectors import timeline_for_record
from tests.factories import CompanyFactory, DealFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def custom_kind():
    """A kind registered the way an app above records does it, removed afterwards."""
    seen = []
    timeline.register_kind("test_enrolled", "Enrolled", "records/activities/note.html", seen.extend)
    yield seen
    timeline._kinds.pop("test_enrolled")


def test_log_puts_one_activity_on_each_record_once(owner, contact):
    company = CompanyFactory(owner=owner)
    activity = timeline.log(
        ActivityKind.NOTE, [contact, company, contact.pk], created_by=owner, body="Met them"
    )
    links = ActivityLink.objects.filter(activity=activity)
    assert sorted(links.values_list("record_id", flat=True)) == sorted([contact.pk, company.pk])
    assert {link.occurred_at for link in links} == {activity.occurred_at}


def test_writing_an_unregistered_kind_is_refused(owner, contact):
    with pytest.raises(ValueError, match="not registered"):
        timeline.log("emial", [contact], created_by=owner)
    with pytest.raises(ValueError, match="not registered"):
        timeline.log_many("emial", [timeline.Entry([contact.pk], timezone.now())])
    assert not Activity.objects.exists()


def test_a_kind_longer_than_the_column_cannot_be_registered():
    with pytest.raises(ValueError, match="too long"):
        timeline.register_kind("k" * 33, "Too long", "records/activities/note.html")


def test_log_many_writes_a_batch_with_its_links_in_order(owner, contact, custom_kind):
    deal = DealFactory(owner=owner)
    start = timezone.now() - timedelta(hours=3)
    entries = [
        timeline.Entry([contact.pk, deal.pk], start, owner.pk, {"title": "first"}),
        timeline.Entry([contact.pk], start + timedelta(hours=1), None, {"title": "second"}),
        timeline.Entry([], start + timedelta(hours=2), None, {"title": "on no record"}),
    ]
    with CaptureQueriesContext(connection) as queries:
        ids = timeline.log_many("test_enrolled", entries)
    # A few statements whatever the batch size (sequence values, COPY or bulk insert, links).
    assert len(queries) <= 6
    activities = Activity.objects.in_bulk(ids)
    assert [activities[pk].title for pk in ids] == ["first", "second", "on no record"]
    assert activities[ids[0]].created_by_id == owner.pk
    assert {a.kind for a in activities.values()} == {"test_enrolled"}
    assert set(ActivityLink.objects.filter(record=deal).values_list("activity_id", flat=True)) == {
        ids[0]
    }
    on_contact = ActivityLink.objects.filter(record=contact).order_by("occurred_at")
    assert [link.activity_id for link in on_contact] == ids[:2]
    assert [link.occurred_at for link in on_contact] == [start, start + timedelta(hours=1)]
    assert timeline.log_many("test_enrolled", []) == []


def test_move_changes_the_moment_on_every_timeline(owner, contact):
    company = CompanyFactory(owner=owner)
    activity = timeline.log(ActivityKind.NOTE, [contact, company], created_by=owner, body="x")
    later = timezone.now() + timedelta(days=2)
    timeline.move(activity.pk, later)
    activity.refresh_from_db()
    assert activity.occurred_at == later
    assert set(
        ActivityLink.objects.filter(activity=activity).values_list("occurred_at", flat=True)
    ) == {later}


def test_registered_kinds_render_with_their_template_and_prefetch_once_per_page(
    owner, contact, custom_kind
):
    timeline.log_many(
        "test_enrolled",
        [timeline.Entry([contact.pk], timezone.now() - timedelta(minutes=i)) for i in range(3)],
    )
    timeline.log(ActivityKind.NOTE, [contact], created_by=owner, body="a note")
    page = timeline_for_record(contact)
    assert len(page.activities) == 4
    assert len(custom_kind) == 3  # one prefetch call saw the three of its kind
    by_kind = {a.kind: a.template_name for a in page.activities}
    assert by_kind == {
        "test_enrolled": "records/activities/note.html",
        ActivityKind.NOTE: "records/activities/note.html",
    }
    assert timeline.kind_label("test_enrolled") == "Enrolled"
    assert timeline.template_for("gone_kind") == "records/activities/unknown.html"
    assert {info.kind for info in timeline.registered_kinds()} >= {
        ActivityKind.NOTE,
        ActivityKind.TASK,
        "email",
        "test_enrolled",
    }


def test_a_page_with_an_activity_of_a_kind_nobody_registers_any_more_still_renders(
    client, owner, contact, custom_kind
):
    timeline.log("test_enrolled", [contact], created_by=owner)
    timeline._kinds.pop("test_enrolled")
    client.force_login(owner)
    response = client.get(f"/records/contacts/{contact.pk}/")
    assert response.status_code == 200
    timeline.register_kind("test_enrolled", "Enrolled", "records/activities/note.html")


# -- the other registries apps above records use ------------------------------------------------


def test_record_panels_actions_and_settings_sections_come_from_the_apps(owner, viewer, contact):
    panels = extensions.panels_for(_Request(owner), contact)
    assert {p["key"] for p in panels} >= {"bounces", "privacy"}
    company = CompanyFactory(owner=owner)
    assert "bounces" not in {p["key"] for p in extensions.panels_for(_Request(owner), company)}
    assert "email" in {a.key for a in extensions.actions_for(owner, contact)}
    # A View-only seat cannot reach out, so mailboxes does not offer it the Email action.
    assert "email" not in {a.key for a in extensions.actions_for(viewer, contact)}
    assert {s.key for s in extensions.settings_sections()} >= {"inboxes", "connected-inboxes"}


def test_seats_say_what_a_user_may_do_in_general_terms(owner, viewer):
    assert owner.can_edit_records and owner.can_reach_out
    assert not viewer.can_edit_records and not viewer.can_reach_out


class _Request:
    def __init__(self, user):
        self.user = user
        self.GET = {}
        self.htmx = False
