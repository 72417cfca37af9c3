"""The sequence builder's pages: create with every kind of step, edit, reorder, remove, clone,
archive and restore; every bad input refused beside its field with nothing saved; who may
change what."""

import pytest

from mailboxes.constants import Sharing
from mailboxes.models import EmailTemplate
from sequences.builder.rules import can_enroll_into
from sequences.constants import StepKind
from sequences.models import Sequence, Step
from tests.factories import UserFactory
from tests.sequences.builder_data import email, posted, task

pytestmark = pytest.mark.django_db


@pytest.fixture
def rep(owner, client):
    client.force_login(owner)
    return owner


def steps_of(sequence):
    return list(sequence.steps.values_list("position", "kind", "delay_days"))


def create(client, *steps, **settings):
    response = client.post("/sequences/new/", posted(*steps, **settings))
    assert response.status_code == 302, response.context and response.context["steps"].errors
    return Sequence.objects.latest("pk")


def test_a_rep_creates_a_sequence_with_each_kind_of_step(client, rep):
    template = EmailTemplate.objects.create(
        owner=rep, name="Intro", subject="Hi {{ contact.first_name }}", body="<p>Intro</p>"
    )
    sequence = create(
        client,
        email(template=template.pk, new_thread="on"),
        task(StepKind.MANUAL_EMAIL, "Write a personal note", delay_days=3),
        task(StepKind.CALL, "Call them", continue_without_completing="on", delay_days=1),
        task(StepKind.TASK, "Connect on LinkedIn", create_task_immediately="on", delay_days=5),
    )
    assert sequence.owner == rep
    assert sequence.window_start.hour == 9 and sequence.window_end.hour == 17
    assert sequence.unenroll_on_reply and not sequence.unenroll_on_meeting
    assert steps_of(sequence) == [
        (0, StepKind.AUTO_EMAIL, 0),  # the first step's delay is ignored
        (1, StepKind.MANUAL_EMAIL, 3),
        (2, StepKind.CALL, 1),
        (3, StepKind.TASK, 5),
    ]
    first, _note, call, linked_in = sequence.steps.all()
    assert first.template == template and first.new_thread
    assert first.subject == "Hello {{ contact.first_name }}"
    assert call.continue_without_completing and not call.create_task_immediately
    assert linked_in.create_task_immediately and linked_in.subject == ""
    page = client.get(f"/sequences/{sequence.pk}/").content.decode()
    assert "Call them" in page and f'href="/sequences/{sequence.pk}/enroll/"' in page


def test_use_template_copies_its_subject_and_body_into_the_step_without_saving(client, rep):
    template = EmailTemplate.objects.create(
        owner=rep, name="Intro", subject="Hi {{ contact.first_name }}", body="<p>From the fair</p>"
    )
    data = posted(email(subject="", body="", template=template.pk), name="Typed name")
    data["step_action"] = "template:0"
    response = client.post("/sequences/new/", data)
    assert response.status_code == 200
    assert not Sequence.objects.exists()
    step = response.context["steps"].forms[0]
    assert step["subject"].value() == "Hi {{ contact.first_name }}"
    assert "From the fair" in step["body"].value()
    assert response.context["form"]["name"].value() == "Typed name"
    assert not response.context["form"].errors  # an edit button refuses nothing


def test_add_move_and_remove_buttons_answer_the_page_as_typed(client, rep):
    data = posted(email(subject="First"), task(title="Second"))
    data["step_action"] = "add:call"
    forms = client.post("/sequences/new/", data).context["steps"].forms
    assert [f["kind"].value() for f in forms] == ["auto_email", "task", "call"]
    data = posted(email(subject="First"), task(title="Second"), task(StepKind.CALL, "Third"))
    data["step_action"] = "up:2"
    forms = client.post("/sequences/new/", data).context["steps"].forms
    assert [f["task_title"].value() or f["subject"].value() for f in forms] == [
        "First",
        "Third",
        "Second",
    ]
    data["step_action"] = "remove:0"
    forms = client.post("/sequences/new/", data).context["steps"].forms
    assert [f["task_title"].value() for f in forms] == ["Second", "Third"]
    assert not Sequence.objects.exists()


def test_editing_reorders_changes_and_removes_steps_keeping_their_identity(client, rep):
    sequence = create(client, email(subject="One"), task(title="Two"), task(title="Three"))
    one, two, three = sequence.steps.all()
    data = posted(
        {**task(title="Three, now second"), "id": three.pk},
        {**email(subject="One"), "id": one.pk, "DELETE": "on"},
        {**task(title="Two"), "id": two.pk, "delay_days": 4},
    )
    response = client.post(f"/sequences/{sequence.pk}/edit/", data)
    assert response.status_code == 302
    assert list(sequence.steps.values_list("pk", "position", "task_title", "delay_days")) == [
        (three.pk, 0, "Three, now second", 0),
        (two.pk, 1, "Two", 4),
    ]


@pytest.mark.parametrize(
    "step, field, message",
    [
        (task(title="Later", delay_days=-1), "delay_days", "Wait between 0 and 365 days."),
        (task(title="Later", delay_days=1000), "delay_days", "Wait between 0 and 365 days."),
        (task(title="Later", delay_days=""), "delay_days", "Enter how many days to wait."),
        (email(subject=""), "subject", "An email step needs a subject."),
        (email(body="<p> </p>"), "body", "An email step needs a body."),
        (task(title=""), "task_title", "A task step needs a title."),
        (
            email(body="<p>Hi {{ contact.favourite_colour }}</p>"),
            "body",
            "Unknown token {{ contact.favourite_colour }}",
        ),
        (email(subject="Hi {{ owner.name }}"), "subject", "Unknown token {{ owner.name }}"),
    ],
)
def test_a_bad_step_is_refused_beside_its_field_and_nothing_is_saved(
    client, rep, step, field, message
):
    response = client.post("/sequences/new/", posted(email(subject="Typed subject"), step))
    assert response.status_code == 200
    assert not Sequence.objects.exists() and not Step.objects.exists()
    forms = response.context["steps"].forms
    assert any(message in e for e in forms[1].errors[field])
    assert forms[0]["subject"].value() == "Typed subject"  # typed text kept
    assert message.split("{{")[0] in response.content.decode()


def test_an_edit_refused_changes_nothing_of_the_saved_sequence(client, rep):
    sequence = create(client, email(subject="Kept"), task(title="Kept too"))
    one, two = sequence.steps.all()
    data = posted(
        {**email(subject="Changed"), "id": one.pk},
        {**task(title="Changed"), "id": two.pk, "delay_days": -1},
        name="Renamed",
    )
    assert client.post(f"/sequences/{sequence.pk}/edit/", data).status_code == 200
    sequence.refresh_from_db()
    assert sequence.name == "Trade fair follow-up"
    assert list(sequence.steps.values_list("subject", "task_title")) == [
        ("Kept", ""),
        ("", "Kept too"),
    ]


def test_a_send_window_must_be_whole_and_end_after_it_starts(client, rep):
    response = client.post(
        "/sequences/new/", posted(email(), window_start="17:00", window_end="09:00")
    )
    assert response.context["form"].errors["window_end"] == [
        "The send window must end after it starts."
    ]
    response = client.post("/sequences/new/", posted(email(), window_end=""))
    assert "Give both times" in response.context["form"].errors["window_end"][0]
    assert not Sequence.objects.exists()


def test_a_sequence_needs_a_step(client, rep):
    response = client.post("/sequences/new/", posted())
    assert response.context["steps"].non_form_errors() == ["Add at least one step."]
    assert not Sequence.objects.exists()


def test_another_users_private_template_is_refused(client, rep, outsider):
    theirs = EmailTemplate.objects.create(
        owner=outsider, name="Private", subject="S", body="<p>b</p>", sharing=Sharing.PRIVATE
    )
    response = client.post("/sequences/new/", posted(email(template=theirs.pk)))
    assert response.context["steps"].forms[0].errors["template"] == [
        "Choose a template you may use."
    ]
    data = posted(email(subject="", body="", template=theirs.pk))
    data["step_action"] = "template:0"
    step = client.post("/sequences/new/", data).context["steps"].forms[0]
    assert step["subject"].value() == ""  # nothing of it copied
    assert not Sequence.objects.exists()


def test_clone_copies_the_steps_for_the_cloner(client, rep, teammate):
    sequence = create(client, email(subject="One"), task(title="Two"))
    client.force_login(teammate)
    response = client.post(f"/sequences/{sequence.pk}/clone/")
    copy = Sequence.objects.latest("pk")
    assert response.url == f"/sequences/{copy.pk}/"
    assert copy.name == "Copy of Trade fair follow-up" and copy.owner == teammate
    assert steps_of(copy) == steps_of(sequence)
    assert copy.window_start == sequence.window_start
    assert Step.objects.filter(sequence=sequence).count() == 2


def test_archive_hides_refuses_edits_and_enrollment_and_restore_brings_it_back(client, rep):
    sequence = create(client, email())
    assert can_enroll_into(sequence) is None
    client.post(f"/sequences/{sequence.pk}/archive/")
    sequence.refresh_from_db()
    assert sequence.archived
    assert "archived" in can_enroll_into(sequence)
    assert sequence.name not in client.get("/sequences/").content.decode()
    assert sequence.name in client.get("/sequences/?archived=1").content.decode()
    response = client.post(f"/sequences/{sequence.pk}/edit/", posted(email(), name="Changed"))
    assert response.status_code == 302
    sequence.refresh_from_db()
    assert sequence.name == "Trade fair follow-up"
    page = client.get(f"/sequences/{sequence.pk}/").content.decode()
    assert "restore it before enrolling" in page and "/enroll/" not in page
    client.post(f"/sequences/{sequence.pk}/restore/")
    sequence.refresh_from_db()
    assert not sequence.archived and can_enroll_into(sequence) is None


def test_a_view_only_seat_looks_but_changes_nothing(client, rep, viewer):
    sequence = create(client, email())
    client.force_login(viewer)
    assert client.get("/sequences/").status_code == 200
    assert "Create sequence" not in client.get("/sequences/").content.decode()
    assert client.get(f"/sequences/{sequence.pk}/").status_code == 200
    assert client.get("/sequences/new/").status_code == 403
    assert client.post("/sequences/new/", posted(email())).status_code == 403
    for action in ("edit", "clone", "archive", "restore"):
        assert client.post(f"/sequences/{sequence.pk}/{action}/").status_code == 403
    assert Sequence.objects.count() == 1 and not Sequence.objects.get().archived


def test_only_the_owner_or_an_admin_edits_and_archives(client, rep, teammate):
    sequence = create(client, email())
    client.force_login(teammate)
    assert client.get(f"/sequences/{sequence.pk}/edit/").status_code == 403
    assert client.post(f"/sequences/{sequence.pk}/archive/").status_code == 403
    client.force_login(UserFactory(is_staff=True))
    assert client.get(f"/sequences/{sequence.pk}/edit/").status_code == 200


def test_the_top_bar_links_to_automations(client, rep):
    page = client.get("/sequences/").content.decode()
    assert '<a href="/sequences/"' in page and ">Automations</a>" in page


def test_remove_then_save_deletes_the_step(client, rep):
    sequence = create(client, email(subject="One"), task(title="Two"))
    one, two = sequence.steps.all()
    data = posted({**email(subject="One"), "id": one.pk}, {**task(title="Two"), "id": two.pk})
    data["step_action"] = "remove:0"
    page = client.post(f"/sequences/{sequence.pk}/edit/", data)
    assert [n for _f, n in page.context["step_rows"]] == [None, 1]
    assert sequence.steps.count() == 2  # not until saved
    # What the page then posts for the removed step: its id, kind and DELETE only.
    # What the page then posts for the removed step: its id, kind and DELETE (no subject).
    removed = {"kind": StepKind.AUTO_EMAIL, "id": one.pk, "DELETE": "on"}
    data = posted(removed, {**task(title="Two"), "id": two.pk})
    assert client.post(f"/sequences/{sequence.pk}/edit/", data).status_code == 302
    assert list(sequence.steps.values_list("pk", "position")) == [(two.pk, 0)]


def test_an_admin_editing_a_reps_sequence_keeps_its_private_template(client, rep, admin_user):
    private = EmailTemplate.objects.create(
        owner=rep, name="Mine", subject="S", body="<p>b</p>", sharing=Sharing.PRIVATE
    )
    sequence = create(client, email(template=private.pk))
    client.force_login(admin_user)
    step = sequence.steps.get()
    data = posted({**email(template=private.pk), "id": step.pk}, name="Renamed by admin")
    assert client.post(f"/sequences/{sequence.pk}/edit/", data).status_code == 302
    assert sequence.steps.get().template == private


def test_a_refused_save_says_nothing_was_saved_and_an_edit_button_does_not(client, rep):
    data = posted(task(title=""))
    assert "Nothing was saved" in client.post("/sequences/new/", data).content.decode()
    data["step_action"] = "add:task"
    assert "Nothing was saved" not in client.post("/sequences/new/", data).content.decode()
