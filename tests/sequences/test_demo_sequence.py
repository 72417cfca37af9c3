"""`make run`'s demo sequence (`load_demo_sequences`)."""

from django.core.management import call_command

from mailboxes.models import Outbound
from records.demo import load_demo
from records.models import User
from sequences.constants import EnrollmentStatus, StepKind
from sequences.engine.tick import tick
from sequences.models import Enrollment, Sequence


def test_the_demo_rep_has_a_sequence_with_contacts_enrolled_whose_first_emails_go_out(
    db, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.CRM_MAIL_CATCHER_DIR = tmp_path
    load_demo(contacts=60)
    quiet = open("/dev/null", "w")
    with django_capture_on_commit_callbacks(execute=True):
        call_command("load_demo_inboxes", stdout=quiet)
        call_command("load_demo_sequences", stdout=quiet)
    sam = User.objects.get(username="sam")
    (sequence,) = Sequence.objects.filter(owner=sam)
    assert [s.kind for s in sequence.steps.order_by("position")] == [
        StepKind.AUTO_EMAIL,
        StepKind.CALL,
        StepKind.AUTO_EMAIL,
    ]
    enrolled = list(Enrollment.objects.filter(sequence=sequence).select_related("contact"))
    assert len(enrolled) == 3
    assert all(e.status == EnrollmentStatus.ACTIVE for e in enrolled)
    assert {e.contact.owner_id for e in enrolled} == {sam.pk}
    # Not the contacts the demo's one-to-one emails went to.
    emailed = set(Outbound.objects.values_list("message__contacts", flat=True))
    assert not emailed & {e.contact_id for e in enrolled}

    with django_capture_on_commit_callbacks(execute=True):
        assert tick(max(e.due_at for e in enrolled)) == {"email": 3}
    first = Outbound.objects.exclude(message__contacts__in=emailed).select_related("message")
    assert sorted(o.message.subject for o in first) == sorted(
        f"Nice to meet you, {e.contact.first_name}" for e in enrolled
    )

    with django_capture_on_commit_callbacks(execute=True):
        call_command("load_demo_sequences", stdout=quiet)  # again: nothing new
    assert Sequence.objects.filter(owner=sam).count() == 1
    assert Enrollment.objects.count() == 3
