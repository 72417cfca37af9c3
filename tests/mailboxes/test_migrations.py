"""Data migrations: an existing account keeps its reply counts and gets sources filled in;
contacts that shared an address are merged without losing anything that was on them."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from privacy.links import contact_for_token, preferences_token
from privacy.models import PrivacyEvent
from records.models import Contact

PROJECT_APPS = {"records", "privacy", "mailboxes", "crm_mail"}
BEFORE = [("mailboxes", "0005_outbound_queue_indexes"), ("records", "0002_search_trigram")]
AFTER = [("mailboxes", "0006_outbound_source_and_replies"), ("records", "0003_activity_kind_open")]


def migrated(targets):
    """Migrate the test database to `targets`, and the project's other apps back to the last of
    their migrations those depend on (a later column of another app would be missing from the
    models returned, and refuse their inserts); return the models as they are there."""
    executor = MigrationExecutor(connection)
    graph = executor.loader.graph
    named = {app for app, _name in targets}
    needed = {node for target in targets for node in graph.forwards_plan(target)}
    latest: dict[str, tuple[str, str]] = {}
    for node in needed:
        app = node[0]
        if app in PROJECT_APPS and app not in named:
            if app not in latest or latest[app] in graph.forwards_plan(node):
                latest[app] = node
    targets = [*targets, *latest.values()]
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.fixture(autouse=True)
def back_to_the_latest_migrations():
    """Leave the test database fully migrated, as the tests after these expect it."""
    yield
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_replies_found_before_the_upgrade_are_counted_on_the_reps_emails():
    apps = migrated(BEFORE)
    thread = apps.get_model("mailboxes", "EmailThread").objects.create(subject="Quote")
    message = apps.get_model("mailboxes", "EmailMessage")
    sent = timezone.now() - timedelta(days=2)
    ours = message.objects.create(thread=thread, direction="out", sent_at=sent, message_id="<a@x>")
    for n, (when, auto) in enumerate(
        [(sent + timedelta(hours=1), False), (sent + timedelta(hours=2), True), (sent, False)]
    ):
        message.objects.create(
            thread=thread, direction="in", sent_at=when, is_auto_reply=auto, message_id=f"<{n}@y>"
        )
    rollup = apps.get_model("mailboxes", "TrackingRollup").objects.create(message=ours)

    apps = migrated(AFTER)
    ours = apps.get_model("mailboxes", "EmailMessage").objects.get(pk=ours.pk)
    assert ours.reply_count == 1
    assert ours.first_reply_at == sent + timedelta(hours=1)
    rollup = apps.get_model("mailboxes", "TrackingRollup").objects.get(pk=rollup.pk)
    assert rollup.source == "one_to_one"


MERGE_BEFORE = [
    ("mailboxes", "0006_outbound_source_and_replies"),
    ("privacy", "0002_builtin_subscription_types"),
    ("records", "0004_contactmerge"),
]
MERGE_AFTER = [
    ("mailboxes", "0007_merge_contacts_sharing_an_address"),
    ("records", "0005_contactemail_one_contact"),
]


@pytest.mark.django_db(transaction=True)
def test_contacts_sharing_an_address_are_merged_into_the_oldest_losing_nothing(capsys):
    apps = migrated(MERGE_BEFORE)
    model = {
        name: apps.get_model(app, name)
        for app, name in [
            ("records", "User"),
            ("records", "Record"),
            ("records", "Contact"),
            ("records", "ContactEmail"),
            ("records", "Activity"),
            ("records", "ActivityLink"),
            ("records", "Association"),
            ("mailboxes", "EmailThread"),
            ("mailboxes", "EmailMessage"),
            ("mailboxes", "Outbound"),
            ("privacy", "SubscriptionType"),
            ("privacy", "SubscriptionStatus"),
            ("privacy", "ContactOptOut"),
            ("privacy", "LegalBasis"),
            ("privacy", "PrivacyEvent"),
        ]
    }
    now = timezone.now()
    blue = model["User"].objects.create(username="blue-rep")
    red = model["User"].objects.create(username="red-rep")

    def contact(name, owner, *addresses):
        row = model["Contact"].objects.create(
            kind="contact", name=name, first_name=name, email=addresses[0], owner=owner
        )
        for i, address in enumerate(addresses):
            model["ContactEmail"].objects.create(contact=row, address=address, is_primary=i == 0)
        return row.pk

    # Ann's address is on three contacts (the third through her home address), twice on the
    # first in two cases; Ulla shares nothing.
    ann = contact("Ann", blue, "ann@client.example", "Ann@Client.Example")
    copy = contact("Annie", red, "ANN@client.example", "ann.home@x.example")
    third = contact("A.", red, "ann.home@x.example", "d2@x.example")
    ulla = contact("Ulla", blue, "ulla@client.example")

    def record(kind, name):
        return model["Record"].objects.create(kind=kind, name=name).pk

    company, deal, other_deal = (
        record("company", "Client"),
        record("deal", "Big"),
        record("deal", "Y"),
    )

    def associate(a, b):
        model["Association"].objects.create(from_record_id=a, to_record_id=b)
        model["Association"].objects.create(from_record_id=b, to_record_id=a)

    associate(ann, company)
    associate(copy, company)  # already on the kept contact
    associate(copy, deal)
    associate(ann, copy)  # would associate Ann with herself
    associate(third, other_deal)
    model["Association"].objects.create(from_record_id=third, to_record_id=ulla)  # one way

    def activity(*records):
        row = model["Activity"].objects.create(kind="note", body="n")
        for record_id in records:
            model["ActivityLink"].objects.create(activity=row, record_id=record_id, occurred_at=now)
        return row.pk

    shared_note, copy_note, third_note = (
        activity(ann, copy),
        activity(copy),
        activity(third, other_deal),
    )

    thread = model["EmailThread"].objects.create(subject="Order")

    def email(ref, contacts, outbound_ids):
        message = model["EmailMessage"].objects.create(
            thread=thread, direction="out", message_id=ref
        )
        message.contacts.set(contacts)
        model["Outbound"].objects.create(
            message=message,
            envelope_from="rep@crm.example",
            recipients=["ann@client.example"],
            status="sent",
            next_attempt_at=now,
            privacy_context="one_to_one",
            contact_ids=outbound_ids,
        )
        return message.pk

    both_email = email("<1@x>", [ann, copy], [ann, copy, third])
    copy_email = email("<2@x>", [copy], [copy, ulla])

    def kind(name):
        return model["SubscriptionType"].objects.create(name=name)

    newsletter, events, product = kind("Newsletter"), kind("Events"), kind("Product")

    def status(contact_id, subscription, state):
        model["SubscriptionStatus"].objects.create(
            contact_id=contact_id, subscription_type=subscription, status=state
        )

    status(ann, newsletter, "subscribed")
    status(copy, newsletter, "opted_out")  # more restrictive: wins
    status(copy, events, "subscribed")  # only on the copy: moves
    status(ann, product, "opted_out")
    status(third, product, "subscribed")  # less restrictive: Ann stays opted out
    for contact_id in (ann, copy):
        model["LegalBasis"].objects.create(
            contact_id=contact_id, basis="consent", explanation="Form"
        )
    for contact_id in (copy, copy, third):
        model["PrivacyEvent"].objects.create(contact_id=contact_id, kind="basis_recorded")
    model["ContactOptOut"].objects.create(contact_id=third, source="one_click")

    apps = migrated(MERGE_AFTER)
    model = {name: apps.get_model(m._meta.app_label, name) for name, m in model.items()}

    assert set(model["Contact"].objects.values_list("pk", flat=True)) == {ann, ulla}
    assert list(
        model["ContactEmail"]
        .objects.filter(contact_id=ann)
        .order_by("-is_primary", "address")
        .values_list("address", "is_primary")
    ) == [("ann@client.example", True), ("ann.home@x.example", False), ("d2@x.example", False)]
    kept = model["Contact"].objects.get(pk=ann)
    assert (kept.name, kept.owner_id, kept.email) == ("Ann", blue.pk, "ann@client.example")
    assert all(a in kept.search_text for a in ("ann.home@x.example", "d2@x.example"))

    # Every activity is still on the timelines it was on, the merged ones now Ann's.
    assert set(model["ActivityLink"].objects.values_list("activity_id", "record_id")) == {
        (shared_note, ann),
        (copy_note, ann),
        (third_note, ann),
        (third_note, other_deal),
    }
    assert set(model["Association"].objects.values_list("from_record_id", "to_record_id")) == {
        (ann, company),
        (company, ann),
        (ann, deal),
        (deal, ann),
        (ann, other_deal),
        (other_deal, ann),
        (ann, ulla),
    }
    contacts_of = {
        pk: list(model["EmailMessage"].objects.get(pk=pk).contacts.values_list("pk", flat=True))
        for pk in (both_email, copy_email)
    }
    assert contacts_of == {both_email: [ann], copy_email: [ann]}
    assert dict(model["Outbound"].objects.values_list("message_id", "contact_ids")) == {
        both_email: [ann],
        copy_email: [ann, ulla],
    }

    statuses = model["SubscriptionStatus"].objects.filter(contact_id=ann)
    assert {s.subscription_type.name: s.status for s in statuses} == {
        "Newsletter": "opted_out",
        "Events": "subscribed",
        "Product": "opted_out",
    }
    assert model["SubscriptionStatus"].objects.count() == 3
    assert model["LegalBasis"].objects.filter(contact_id=ann).count() == 2
    events_of_ann = model["PrivacyEvent"].objects.filter(contact_id=ann)
    assert events_of_ann.filter(kind="basis_recorded").count() == 3
    merge_event = events_of_ann.get(kind="subscription_changed")
    assert merge_event.details["merged_from"] == copy
    assert (merge_event.details["old"], merge_event.details["new"]) == ("subscribed", "opted_out")
    assert "kept from a duplicate contact" in PrivacyEvent.objects.get(pk=merge_event.pk).summary
    assert not model["PrivacyEvent"].objects.filter(contact__isnull=True).exists()
    assert model["ContactOptOut"].objects.filter(contact_id=ann).exists()

    output = capsys.readouterr().out
    assert f"#{copy} 'Annie' (red-rep) merged into #{ann} 'Ann' (blue-rep)" in output
    assert f"Product: #{ann} opted_out kept over #{third} subscribed" in output

    # The old ids lead to Ann: links to preferences pages sent to the copies still work.
    assert contact_for_token(preferences_token(Contact(pk=copy))).pk == ann
    assert contact_for_token(preferences_token(Contact(pk=third))).pk == ann
    # And from now on, an address is one contact's.
    with pytest.raises(IntegrityError), transaction.atomic():
        model["ContactEmail"].objects.create(contact_id=ulla, address="Ann.Home@x.example")


@pytest.mark.django_db(transaction=True)
def test_shared_templates_and_snippets_stay_shared_with_everyone_and_the_rest_private():
    before = [("mailboxes", "0007_merge_contacts_sharing_an_address")]
    after = [("mailboxes", "0008_content_sharing")]
    apps = migrated(before)
    owner = apps.get_model("records", "User").objects.create(username="rep")
    made = {}
    for name in ("EmailTemplate", "Snippet"):
        model = apps.get_model("mailboxes", name)
        for shared in (True, False):
            made[name, shared] = model.objects.create(
                owner_id=owner.pk, name=f"{name} {shared}", body="<p>x</p>", shared=shared
            ).pk

    apps = migrated(after)
    for (name, shared), pk in made.items():
        row = apps.get_model("mailboxes", name).objects.get(pk=pk)
        assert row.sharing == ("everyone" if shared else "private"), (name, shared)


LEDGER_BEFORE = [("mailboxes", "0012_draft_attachments")]
LEDGER_AFTER = [("mailboxes", "0013_ledger")]


@pytest.mark.django_db(transaction=True)
def test_forwards_logged_before_the_upgrade_are_titled_like_the_rest():
    apps = migrated(LEDGER_BEFORE)
    activity = apps.get_model("records", "Activity")
    forward = activity.objects.create(kind="email", title="Email - Fwd: Quote")
    plain = activity.objects.create(kind="email")
    task = activity.objects.create(kind="task", title="Email - call back first")

    apps = migrated(LEDGER_AFTER)
    titles = dict(
        apps.get_model("records", "Activity")
        .objects.filter(pk__in=[forward.pk, plain.pk, task.pk])
        .values_list("pk", "title")
    )
    assert titles == {
        forward.pk: "Email forwarded",
        plain.pk: "",
        task.pk: "Email - call back first",
    }


PREFERENCES_BEFORE = [("mailboxes", "0015_sending_defaults")]
PREFERENCES_AFTER = [("mailboxes", "0016_email_preferences")]


@pytest.mark.django_db(transaction=True)
def test_each_users_default_from_becomes_their_email_preference():
    apps = migrated(PREFERENCES_BEFORE)
    user = apps.get_model("records", "User")
    mailbox = apps.get_model("mailboxes", "Mailbox")
    ann, bob = (user.objects.create(username=name) for name in ("ann", "bob"))
    mailbox.objects.create(kind="personal", provider="imap", email="a1@x.example", owner=ann)
    chosen = mailbox.objects.create(
        kind="personal", provider="imap", email="a2@x.example", owner=ann, is_default_from=True
    )
    mailbox.objects.create(kind="personal", provider="imap", email="b@x.example", owner=bob)

    apps = migrated(PREFERENCES_AFTER)
    preferences = apps.get_model("mailboxes", "EmailPreferences").objects.all()
    assert [(p.user_id, p.from_mailbox_id, p.from_address) for p in preferences] == [
        (ann.pk, chosen.pk, "a2@x.example")
    ]  # bob chose nothing: his first inbox stays his default without a row
