"""Email reports: every rate of a hand-computed data set on the page and in the CSV, access
for each persona, bad input, the rollups kept by the refresh job equal to a rebuild from raw
events, and what marks an email for a refresh."""

import csv
import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from mailboxes import jobs, signals
from mailboxes.connecting.services import mailbox_connect_team
from mailboxes.models import (
    Conversation,
    EmailThread,
    ReportDaily,
    ReportDirty,
    ReportEmail,
    TeamInbox,
)
from mailboxes.reports import rollups, tasks
from mailboxes.reports.filters import Filters
from mailboxes.reports.helpdesk import response_times
from mailboxes.reports.query import build
from privacy import signals as privacy_signals
from tests.factories import UserFactory

from . import report_data
from .report_data import (
    EVERYONE,
    EVERYONE_RATES,
    EVERYONE_WITH_BOTS,
    OUTSIDER_RATES,
    OWNER_RATES,
)

URL = "/reports/email/"
CSV_URL = "/reports/email.csv"


@pytest.fixture
def data(owner, outsider):
    return report_data.build(owner, outsider)


def period(data, **more):
    return {
        "start": (data.first - timedelta(days=1)).date().isoformat(),
        "end": data.second.date().isoformat(),
        **more,
    }


def total_rates(report):
    return report.total.rates


def csv_rows(response):
    return list(csv.reader(io.StringIO(response.content.decode())))


def csv_total(response) -> dict:
    rows = csv_rows(response)
    header = next(r for r in rows if r and r[0] == "Table")
    total = next(r for r in rows if r and r[0] == "Total")
    return dict(zip(header, total, strict=True))


@pytest.mark.django_db
def test_every_rate_of_the_data_set_is_the_hand_computed_one(client, admin_user, data):
    client.force_login(admin_user)
    report = build(admin_user, Filters.from_query(period(data)))
    assert {k: report.total.counts[k] for k in EVERYONE} == EVERYONE
    assert total_rates(report) == EVERYONE_RATES
    assert report.estimate  # Apple's proxy opened one: opens are estimates
    with_bots = build(admin_user, Filters.from_query(period(data, bots="1")))
    assert {k: with_bots.total.rates[k] for k in EVERYONE_WITH_BOTS} == EVERYONE_WITH_BOTS

    page = client.get(URL, period(data))
    assert page.status_code == 200
    html = page.content.decode()
    assert "37.5%" in html and "privacy proxy" in html and "≈" in html
    assert "How these numbers are computed" in html

    response = client.get(CSV_URL, period(data))
    assert response["Content-Type"].startswith("text/csv")
    total = csv_total(response)
    assert total["Sent"] == "9" and total["Delivered"] == "8" and total["Opened"] == "3"
    assert {k: total[k] for k in ("Open rate", "Click rate", "Reply rate", "Bounce rate")} == {
        "Open rate": "37.5",
        "Click rate": "12.5",
        "Reply rate": "12.5",
        "Bounce rate": "11.1",
    }
    bots = csv_total(client.get(CSV_URL, period(data, bots="1")))
    assert (bots["Opened"], bots["Open rate"], bots["Click rate"]) == ("6", "75.0", "25.0")


@pytest.mark.django_db
def test_the_csv_holds_exactly_the_rows_the_page_shows(client, admin_user, data):
    client.force_login(admin_user)
    query = period(data, group="type", bucket="day")
    report = build(admin_user, Filters.from_query(query))
    rows = [r for r in csv_rows(client.get(CSV_URL, query)) if r and r[0] != "Email report"]
    shown = [r for r in rows[1:]]
    assert len(shown) == len(report.series) + len(report.groups) + 1
    by_type = {r[1]: r for r in shown if r[0] == "By Email type"}
    assert set(by_type) == {"One-to-one", "Sequence", "Transactional"}
    assert by_type["One-to-one"][2] == "7"  # sent: the owner's seven


@pytest.mark.django_db
def test_grouping_by_sequence_step_template_and_token_names_them(admin_user, data):
    f = period(data)
    sequences = build(admin_user, Filters.from_query({**f, "group": "sequence"})).groups
    assert [(g.label, g.counts["sent"], g.rates["open_rate"]) for g in sequences] == [
        ("Onboarding", 1, 100.0)
    ]
    steps = build(admin_user, Filters.from_query({**f, "group": "step"})).groups
    assert [g.label for g in steps] == ["Onboarding, step 1"]
    tokens = build(admin_user, Filters.from_query({**f, "group": "token"})).groups
    assert [(g.label, g.counts["sent"]) for g in tokens] == [("Shop receipts", 1)]
    templates = build(admin_user, Filters.from_query({**f, "group": "template"})).groups
    assert {g.label: g.counts["sent"] for g in templates} == {"No template": 8, "Welcome": 1}
    only = build(admin_user, Filters.from_query({**f, "sequence": str(data.sequence.pk)}))
    assert only.total.counts["sent"] == 1 and not only.filters.errors


@pytest.mark.django_db
def test_each_persona_sees_their_own_team_or_everything(
    client, owner, teammate, outsider, admin_user, data
):
    rep = build(owner, Filters.from_query(period(data)))
    assert total_rates(rep) == OWNER_RATES
    assert set(rep.offered["rep"]) == {owner.pk}
    assert "sequence" not in rep.offered or not rep.offered["sequence"]
    manager = build(teammate, Filters.from_query(period(data)))  # Blue's manager
    assert total_rates(manager) == OWNER_RATES
    assert set(manager.offered["rep"]) >= {owner.pk, teammate.pk}
    assert outsider.pk not in manager.offered["rep"]
    red = build(outsider, Filters.from_query(period(data)))
    assert total_rates(red) == OUTSIDER_RATES
    assert build(admin_user, Filters.from_query(period(data))).total.counts["sent"] == 9

    # The CSV and the filter values obey the same rules.
    client.force_login(owner)
    assert csv_total(client.get(CSV_URL, period(data)))["Sent"] == "7"
    html = client.get(URL, period(data)).content.decode()
    assert "Onboarding" not in html and "Shop receipts" not in html and "outsider" not in html


@pytest.mark.django_db
def test_a_filter_value_the_user_may_not_see_is_refused_without_leaking(client, owner, data):
    client.force_login(owner)
    for name, value in (
        ("rep", data.emails["sequence"].outbound.sender_id),
        ("sequence", data.sequence.pk),
        ("token", data.token.pk),
        ("template", data.template.pk),
        ("team", 999999),
    ):
        response = client.get(URL, period(data, **{name: value}))
        assert response.status_code == 200
        html = response.content.decode()
        assert "not one you can report on" in html
        assert "Onboarding" not in html and "Shop receipts" not in html
        total = csv_total(client.get(CSV_URL, period(data, **{name: value})))
        assert total["Sent"] == "7"  # their own, never the outsider's


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "words"),
    [
        ({"start": "2026-03-10", "end": "2026-03-01"}, "ends before it starts"),
        ({"start": "2020-01-01", "end": "2026-03-01"}, "at most 731 days"),
        ({"start": "yesterday"}, "YYYY-MM-DD"),
        ({"group": "color"}, "Unknown grouping"),
        ({"bucket": "hour"}, "Unknown time step"),
        ({"rep": "abc"}, "not one you can report on"),
    ],
)
def test_bad_input_gets_a_clear_message_and_no_error(client, owner, query, words):
    client.force_login(owner)
    response = client.get(URL, query)
    assert response.status_code == 200
    assert words in response.content.decode()
    assert client.get(CSV_URL, query).status_code == 200


@pytest.mark.django_db
def test_rollups_kept_by_the_refresh_equal_a_rebuild_from_raw_events(owner, outsider, data):
    def snapshot():
        return sorted(
            tuple(r)
            for r in ReportDaily.objects.exclude(sent=0).values_list(
                "day", "rep_id", "team_id", "source", "source_id", "template_id",
                "sent", "delivered", "bounced", "tracked", "opened", "opened_any",
                "opened_proxy", "clicked", "clicked_any", "replied", "unsubscribed",
            )
        )  # fmt: skip

    # More changes after the first roll-up: a reply, a bounce, a late open, then a burst of
    # clicks by a scanner that re-marks a person's click.
    e = data.emails
    type(e["apple"]).objects.filter(pk=e["apple"].pk).update(reply_count=2)
    type(e["prefetch"]).objects.filter(pk=e["prefetch"].pk).update(bounce="soft")
    report_data._hits(
        e["logged"], ("open", data.first + timedelta(hours=5), "81.2.69.160", report_data.SAFARI)
    )
    rollups.mark([e["apple"].pk, e["prefetch"].pk])
    report_data.roll_up()
    incremental = snapshot()
    assert not ReportDirty.objects.exists()
    call_command("reports_rebuild", stdout=io.StringIO())
    assert snapshot() == incremental
    assert ReportEmail.objects.filter(sent=1).count() == 9


@pytest.mark.django_db
def test_what_changes_an_email_marks_it_for_the_refresh(
    owner, outsider, data, django_capture_on_commit_callbacks
):
    e = data.emails["person"]
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            signals.send_on_commit(
                signals.bounce_recorded,
                __name__,
                [signals.BounceRecorded(e.pk, None, "a@b.example", True, "550", "", None, ())],
            )
    assert ReportDirty.objects.filter(message_id=e.pk).exists()
    type(e).objects.filter(pk=e.pk).update(bounce="hard")
    assert report_data.roll_up() == 1
    owner_view = build(owner, Filters.from_query(period(data)))
    assert owner_view.total.counts["bounced"] == 2
    assert owner_view.total.counts["replied"] == 0  # a bounced email's reply does not count


@pytest.mark.django_db
def test_a_user_without_a_team_or_emails_sees_an_empty_report(client):
    loner = UserFactory(username="loner")
    client.force_login(loner)
    response = client.get(URL)
    assert response.status_code == 200
    assert "No email in this period." in response.content.decode()


@pytest.mark.django_db
def test_a_deleted_tracked_email_leaves_the_reports_at_the_next_refresh(owner, outsider, data):
    e = data.emails["person"]
    pk = e.pk
    e.delete()
    assert ReportDirty.objects.filter(message_id=pk).exists()
    report_data.roll_up()
    owner_view = build(owner, Filters.from_query(period(data)))
    assert owner_view.total.counts["sent"] == 6 and owner_view.total.counts["replied"] == 0


@pytest.mark.django_db
def test_help_desk_first_response_per_inbox_and_person(client, owner, teammate, admin_user):
    desk = TeamInbox.objects.create(name="Support", kind="help_desk", response_target_minutes=60)
    mailbox = mailbox_connect_team(
        desk, provider="gmail", email="help@acme.example", secret={}, config={}
    )
    now = timezone.now()
    for assignee, minutes in ((owner, 30), (owner, 90), (teammate, 45), (teammate, None)):
        Conversation.objects.create(
            mailbox=mailbox,
            thread=EmailThread.objects.create(subject="Help"),
            counterpart=f"c{minutes}@x.example",
            assignee=assignee,
            last_activity_at=now,
            first_response_minutes=minutes,
        )
    client.force_login(admin_user)
    html = client.get(URL).content.decode()
    assert "Help desk: first response" in html
    # The inbox: 4 conversations, 3 answered, averaging (30 + 90 + 45) / 3 = 55 minutes,
    # 2 of 4 within the 60-minute target.
    f = Filters.default()
    (inbox,) = response_times(admin_user, f)["inbox"]
    assert (inbox.label, inbox.conversations, inbox.answered) == ("Support", 4, 3)
    assert (inbox.average_minutes, inbox.within_target_rate) == (55.0, 50.0)
    people = {r.label: r for r in response_times(admin_user, f)["person"]}
    assert people[owner.display_name].within_target_rate == 50.0
    assert people[teammate.display_name].average_minutes == 45.0
    # A rep sees their own conversations only.
    (own,) = response_times(owner, f)["person"]
    assert (own.label, own.conversations) == (owner.display_name, 2)


@pytest.mark.django_db
def test_the_page_reads_rollups_never_raw_events(client, admin_user, data):
    client.force_login(admin_user)
    for group in ("rep", "sequence", "token"):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(URL, period(data, group=group, bots="1")).status_code == 200
        tables = " ".join(q["sql"] for q in queries)
        assert "reportdaily" in tables
        assert "trackingevent" not in tables and "trackingrollup" not in tables


@pytest.mark.django_db
def test_filtering_by_a_sequence_step(admin_user, data):
    report = build(admin_user, Filters.from_query(period(data, step=str(data.step.pk))))
    assert not report.filters.errors
    assert report.total.counts["sent"] == 1 and report.total.rates["open_rate"] == 100.0
    assert report.offered["step"] == {data.step.pk: "Onboarding, step 1"}


@pytest.mark.django_db
def test_synced_mail_replies_and_opt_outs_mark_their_emails(
    owner, outsider, data, django_capture_on_commit_callbacks
):
    e = data.emails
    quitter = e["unsubscribed"].contacts.get()
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            signals.send_on_commit(
                signals.messages_synced,
                __name__,
                [signals.MessagesSynced(e["logged"].mailbox_id, (e["logged"].pk,))],
            )
            privacy_signals.withdrawn_on_commit(quitter.pk, "opted_out_all")
    marked = set(ReportDirty.objects.values_list("message_id", flat=True))
    assert marked == {e["logged"].pk, e["unsubscribed"].pk}
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            reply = signals.ReplyReceived(
                0, e["apple"].thread_id, 0, (), (e["apple"].pk,), None, False, "", None
            )
            # As sync sends them: once per page, all of its replies.
            signals.send_on_commit(
                signals.replies_received, __name__, [signals.RepliesReceived((reply,))]
            )
    assert ReportDirty.objects.filter(message_id=e["apple"].pk).exists()


@pytest.mark.django_db
def test_the_refresh_job_runs_within_a_minute_and_rolls_up_marked_emails(settings, owner, data):
    (entry,) = [
        e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == jobs.REPORTS_REFRESH
    ]
    assert entry["schedule"] <= 60
    rollups.mark([data.emails["person"].pk, data.emails["logged"].pk])
    assert tasks.reports_refresh() == 2
    assert not ReportDirty.objects.exists()


@pytest.mark.django_db
def test_an_opt_out_of_one_subscription_type_counts_against_the_last_email_before_it(
    owner, django_capture_on_commit_callbacks
):
    from privacy.constants import SubscriptionState
    from privacy.models import SubscriptionStatus, SubscriptionType
    from tests.factories import ContactFactory
    from tests.mailboxes.inboxes import offline_mailbox

    mailbox = offline_mailbox(owner)
    reader = ContactFactory(owner=owner, emails=["reader@acme.example"])
    t = timezone.now() - timedelta(days=2)
    first = report_data._email(mailbox, owner, t, contact=reader)
    last = report_data._email(mailbox, owner, t + timedelta(hours=1), contact=reader)
    after = report_data._email(mailbox, owner, t + timedelta(days=1), contact=reader)
    newsletter = SubscriptionType.objects.create(name="Newsletter")
    status = SubscriptionStatus.objects.create(
        contact=reader,
        subscription_type=newsletter,
        status=SubscriptionState.OPTED_OUT,
        updated_at=t + timedelta(hours=2),
    )
    ReportDirty.objects.all().delete()
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            privacy_signals.withdrawn_on_commit(reader.pk, "subscription_changed")
    assert set(ReportDirty.objects.values_list("message_id", flat=True)) == {last.pk}
    call_command("reports_rebuild", stdout=io.StringIO())
    counted = dict(ReportEmail.objects.values_list("message_id", "unsubscribed"))
    assert (counted[first.pk], counted[last.pk], counted[after.pk]) == (0, 1, 0)

    status.status = SubscriptionState.SUBSCRIBED  # subscribed again: no longer counted
    status.save()
    call_command("reports_rebuild", stdout=io.StringIO())
    assert not ReportEmail.objects.filter(unsubscribed=1).exists()


@pytest.mark.django_db
def test_days_are_the_accounts_not_utcs(owner):
    from datetime import UTC, datetime

    from records.models import BusinessCalendar
    from tests.mailboxes.inboxes import offline_mailbox

    calendar = BusinessCalendar.load()
    calendar.time_zone = "Europe/Rome"
    calendar.save()
    # 23:30 UTC on March 9 is 00:30 on March 10 in Rome.
    late = report_data._email(
        offline_mailbox(owner), owner, datetime(2026, 3, 9, 23, 30, tzinfo=UTC)
    )
    call_command("reports_rebuild", stdout=io.StringIO())
    assert list(ReportDaily.objects.values_list("day", flat=True)) == [datetime(2026, 3, 10).date()]
    assert ReportEmail.objects.filter(message=late).exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("bucket", "first"),
    [("day", "{d:%-d} {d:%b %Y}"), ("week", "week of {d:%-d} {d:%b %Y}"), ("month", "{d:%b %Y}")],
)
def test_periods_read_as_dates_do_on_every_page(admin_user, data, bucket, first):
    # The periods a report lists: its first is the one holding the start day.
    query = {"start": "2026-03-04", "end": "2026-05-20", "bucket": bucket}
    report = build(admin_user, Filters.from_query(query))
    start = report.series[0].key
    assert report.series[0].label == first.format(d=start)
    assert "2026-" not in " ".join(r.label for r in report.series)
