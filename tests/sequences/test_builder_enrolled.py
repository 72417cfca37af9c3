"""What the builder shows and keeps for sequences people are enrolled in: the list's counts and
reply rate in a constant number of queries, and editing with live enrollments (the steps they
reached stay in place; their next step and per-step edits follow what the page says)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from sequences.builder import stats
from sequences.constants import EndReason, EnrollmentStatus, StepKind
from sequences.models import Enrollment, Sequence, Step, StepRun
from tests.factories import ContactFactory
from tests.mailboxes.inboxes import unreachable_mailbox
from tests.sequences.builder_data import email, posted, task

pytestmark = pytest.mark.django_db


@pytest.fixture
def rep(owner, client):
    client.force_login(owner)
    return owner


@pytest.fixture
def inbox(rep):
    return unreachable_mailbox(rep)


def sequence_with(owner, *titles, name="Seq") -> Sequence:
    sequence = Sequence.objects.create(name=name, owner=owner)
    for position, title in enumerate(titles):
        Step.objects.create(
            sequence=sequence, position=position, kind=StepKind.TASK, task_title=title
        )
    return sequence


def enroll(sequence, inbox, *, status=EnrollmentStatus.ACTIVE, reason="", emailed=0, at=0, **kw):
    enrollment = Enrollment.objects.create(
        sequence=sequence,
        contact=ContactFactory(),
        enrolled_by=sequence.owner,
        mailbox=inbox,
        from_address=inbox.email,
        time_zone="Europe/Rome",
        status=status,
        end_reason=reason,
        next_position=at,
        **kw,
    )
    for position in range(emailed):
        StepRun.objects.create(enrollment=enrollment, position=position, kind=StepKind.AUTO_EMAIL)
    return enrollment


def test_the_list_counts_each_sequences_enrollments_in_a_constant_number_of_queries(
    client, rep, inbox
):
    sequence = sequence_with(rep, "One", name="Counted")
    enroll(sequence, inbox, emailed=1, at=1)
    enroll(sequence, inbox, status=EnrollmentStatus.PAUSED)
    enroll(sequence, inbox, status=EnrollmentStatus.FINISHED, reason=EndReason.FINISHED, emailed=2)
    enroll(sequence, inbox, status=EnrollmentStatus.ENDED, reason=EndReason.REPLIED, emailed=1)
    enroll(sequence, inbox, status=EnrollmentStatus.ENDED, reason=EndReason.REPLIED)
    enroll(sequence, inbox, status=EnrollmentStatus.ENDED, reason=EndReason.BOUNCED, emailed=1)
    enroll(sequence, inbox, status=EnrollmentStatus.ENDED, reason=EndReason.UNSUBSCRIBED)
    counts = stats.counts([sequence.pk])[sequence.pk]
    assert (counts.enrolled, counts.active, counts.finished) == (7, 2, 1)
    assert (counts.replied, counts.bounced, counts.unsubscribed) == (2, 1, 1)
    # Replied among those sent an email (1) over those sent an email (4).
    assert (counts.emailed, counts.replied_emailed, counts.reply_rate) == (4, 1, 0.25)

    with CaptureQueriesContext(connection) as few:
        page = client.get("/sequences/")
    row = page.context["rows"][0]
    assert row[0].step_count == 1 and row[1] == counts
    assert "25%" in page.content.decode()
    for n in range(5):
        enroll(sequence_with(rep, "x", "y", name=f"More {n}"), inbox, emailed=1)
    with CaptureQueriesContext(connection) as many:
        page = client.get("/sequences/")
    assert len(page.context["rows"]) == 6
    assert len(many) == len(few)


def test_a_sequence_nobody_was_emailed_from_has_no_reply_rate(client, rep):
    sequence_with(rep, "One", name="Quiet")
    page = client.get("/sequences/").content.decode()
    assert "No automated email sent yet" in page


def test_the_edit_page_says_what_happens_to_enrolled_contacts(client, rep, inbox):
    sequence = sequence_with(rep, "One", "Two", "Three")
    enroll(sequence, inbox, at=1)
    enroll(sequence, inbox, at=0)
    page = client.get(f"/sequences/{sequence.pk}/edit/")
    text = page.content.decode()
    assert "2 contacts are enrolled: changed steps apply to the steps not yet run" in text
    assert "those whose next step was removed go on to the step after it" in text
    assert "Step 1 has been reached, so it stays first" in text
    assert page.context["held"] == 1


def test_removing_an_enrollments_next_step_moves_it_on_and_overrides_follow_their_step(
    client, rep, inbox
):
    sequence = sequence_with(rep, "One", "Two", "Three", "Four")
    one, two, three, four = sequence.steps.all()
    overrides = {"1": {"task_title": "Two, for Ana"}, "3": {"task_title": "Four, for Ana"}}
    waiting = enroll(sequence, inbox, at=1, overrides=overrides)
    ended = enroll(sequence, inbox, at=3, status=EnrollmentStatus.ENDED, reason=EndReason.MANUAL)
    data = posted(
        {**task(title="One"), "id": one.pk},
        {**task(title="Two"), "id": two.pk, "DELETE": "on"},
        {**task(title="Four"), "id": four.pk},
        {**task(title="Three"), "id": three.pk},
    )
    assert client.post(f"/sequences/{sequence.pk}/edit/", data).status_code == 302
    assert list(sequence.steps.values_list("pk", "position")) == [
        (one.pk, 0),
        (four.pk, 1),
        (three.pk, 2),
    ]
    waiting.refresh_from_db()
    # Its next step (Two) was removed: the step now after One comes next, Four.
    assert waiting.next_position == 1
    assert waiting.overrides == {"1": {"task_title": "Four, for Ana"}}
    ended.refresh_from_db()
    assert ended.next_position == 3  # an ended enrollment is history: left as it was


def test_steps_enrolled_contacts_reached_can_be_neither_removed_nor_moved(client, rep, inbox):
    sequence = sequence_with(rep, "One", "Two", "Three")
    one, two, three = sequence.steps.all()
    enroll(sequence, inbox, at=2, status=EnrollmentStatus.PAUSED)
    page = client.get(f"/sequences/{sequence.pk}/edit/").content.decode()
    assert "Move step 3 up" not in page and "Remove step 2" not in page
    assert "Remove step 3" in page
    for order in ([one, three, two], [two, one, three], [one, three]):
        rows = [{**task(title=s.task_title), "id": s.pk} for s in order]
        if len(order) == 2:
            rows.append({**task(title="Two"), "id": two.pk, "DELETE": "on"})
        response = client.post(f"/sequences/{sequence.pk}/edit/", posted(*rows))
        assert response.status_code == 200
        assert "Enrolled contacts have reached steps 1 to 2" in response.content.decode()
    assert list(sequence.steps.values_list("pk", flat=True)) == [one.pk, two.pk, three.pk]
    # Their content may still change; a step after them may go.
    rows = [{**task(title="One, reworded"), "id": one.pk}, {**task(title="Two"), "id": two.pk}]
    rows.append({**task(title="Three"), "id": three.pk, "DELETE": "on"})
    assert client.post(f"/sequences/{sequence.pk}/edit/", posted(*rows)).status_code == 302
    assert list(sequence.steps.values_list("task_title", flat=True)) == ["One, reworded", "Two"]


def test_the_detail_page_shows_the_counts_and_steps(client, rep, inbox):
    sequence = sequence_with(rep, "Call the buyer")
    enroll(sequence, inbox, status=EnrollmentStatus.ENDED, reason=EndReason.REPLIED, emailed=1)
    page = client.get(f"/sequences/{sequence.pk}/").content.decode()
    assert "Call the buyer" in page and "1 replied, 0 bounced, 0 unsubscribed" in page
    assert "100%" in page


def test_the_form_posts_the_builders_own_fields(client, rep):
    page = client.post("/sequences/new/", {**posted(email()), "step_action": "add:call"})
    assert page.status_code == 200
    assert 'name="steps-1-task_title"' in page.content.decode()
