"""A record page whose timeline holds 10,000 activities.

Target: the record page (GET /records/contacts/<pk>/) renders in under 150 ms server time
with 10,000 activities on the timeline, and the number of SQL queries does not depend on the
timeline's length. The figure is the median time of the page for the 10,000-activity record,
requested by a signed-in user with "all" access through Django's test Client (full middleware
stack and template rendering). Context: p95, query counts for a 10- and a 10,000-activity
record (which must be equal), and the htmx "next page" request deep in the timeline.
"""

import random
import statistics
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from records.constants import ActivityKind, RecordAccess, RecordKind, Seat, TaskStatus, TaskType
from records.models import Activity, ActivityLink, Company, Contact, Team, User
from records.services import association_create, contact_save, record_save

from .common import bench_line, describe, ensure_dataset, timed_get

NAME = "timeline"
TARGET_MS = 150
BIG = 10_000
SMALL = 10
SEED = 20261122
SIGNATURE = f"v1 big={BIG} small={SMALL} seed={SEED}"
WARMUP = 5
REQUESTS = 30
DEEP_POSITION = 9_000  # the next page starts after this many activities

BIG_EMAIL = "timeline-big@bench.example"
SMALL_EMAIL = "timeline-small@bench.example"

_WORDS = (
    "call follow up proposal pricing renewal contract meeting demo onboarding invoice "
    "discount budget quarter decision legal review security questionnaire integration "
    "timeline pilot feedback champion stakeholder procurement signature kickoff"
).split()


def _paragraph(rng: random.Random) -> str:
    lines = []
    for _ in range(rng.randint(1, 4)):
        words = rng.choices(_WORDS, k=rng.randint(6, 40))
        lines.append(" ".join(words).capitalize() + ".")
    return "\n".join(lines)


def _fill_timeline(rng: random.Random, contact: Contact, count: int, users: list[User]) -> None:
    """Bulk insert `count` notes and tasks on the contact's timeline, newest now."""
    now = timezone.now()
    stamp = now - timedelta(days=3 * 365)
    step = (now - stamp) / count
    activities = []
    for _ in range(count):
        # About one in twenty shares the previous timestamp, so the keyset's tie-break matters.
        if not activities or rng.random() > 0.05:
            stamp += step * rng.uniform(0.2, 1.8)
        author = rng.choice(users)
        if rng.random() < 0.6:
            activities.append(
                Activity(
                    kind=ActivityKind.NOTE,
                    occurred_at=min(stamp, now),
                    created_by=author,
                    body=_paragraph(rng),
                )
            )
        else:
            done = rng.random() < 0.5
            activities.append(
                Activity(
                    kind=ActivityKind.TASK,
                    occurred_at=min(stamp, now),
                    created_by=author,
                    title=" ".join(rng.choices(_WORDS, k=rng.randint(2, 6))).capitalize(),
                    task_type=rng.choice(TaskType.values),
                    status=TaskStatus.COMPLETED if done else TaskStatus.NOT_STARTED,
                    due_at=stamp + timedelta(days=rng.randint(1, 14)),
                    assigned_to=rng.choice(users),
                    completed_at=stamp + timedelta(days=1) if done else None,
                    body=_paragraph(rng) if rng.random() < 0.3 else "",
                )
            )
    Activity.objects.bulk_create(activities, batch_size=2000)
    ActivityLink.objects.bulk_create(
        [ActivityLink(activity=a, record=contact, occurred_at=a.occurred_at) for a in activities],
        batch_size=5000,
    )


def _fill() -> None:
    rng = random.Random(SEED)
    team = Team.objects.create(name="Timeline bench")
    viewer = User.objects.create(
        username="tl-viewer",
        first_name="Vera",
        last_name="Viewer",
        team=team,
        seat=Seat.SALES,
        record_access=RecordAccess.ALL,
        time_zone="Europe/Berlin",
    )
    reps = [
        User.objects.create(
            username=f"tl-rep{i}", first_name="Rep", last_name=str(i), team=team, seat=Seat.SALES
        )
        for i in range(1, 4)
    ]
    for user in [viewer, *reps]:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    for first, last, email, count in (
        ("Tiberius", "Tenthousand", BIG_EMAIL, BIG),
        ("Tamsin", "Ten", SMALL_EMAIL, SMALL),
    ):
        contact = contact_save(
            Contact(first_name=first, last_name=last, owner=reps[0], phone="+1 555 0100"),
            [email, email.replace("@", ".home@")],
        )
        company = record_save(
            Company(kind=RecordKind.COMPANY, name=f"{last} Industries", domain="bench.example")
        )
        association_create(contact, company)
        _fill_timeline(rng, contact, count, reps)


def _verify() -> bool:
    counts = {
        email: ActivityLink.objects.filter(record__contact__email=email).count()
        for email in (BIG_EMAIL, SMALL_EMAIL)
    }
    return counts == {BIG_EMAIL: BIG, SMALL_EMAIL: SMALL} and (
        User.objects.filter(username="tl-viewer").exists()
    )


def _cursor_after(contact: Contact, position: int) -> str:
    """The cursor the page holding activity number `position` + 1 is requested with."""
    occurred_at, activity_id = (
        ActivityLink.objects.filter(record_id=contact.pk)
        .order_by("-occurred_at", "-activity_id")
        .values_list("occurred_at", "activity_id")[position - 1]
    )
    return f"{occurred_at.isoformat()}_{activity_id}"


def _count_queries(client: Client, path: str, data=None, **extra) -> tuple[int, list[str], str]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path, data, **extra)
    assert response.status_code == 200, (path, response.status_code)
    return len(captured), [q["sql"] for q in captured], response.content.decode()


def run() -> bool:
    ensure_dataset(NAME, SIGNATURE, _fill, _verify)
    big = Contact.objects.get(email=BIG_EMAIL)
    small = Contact.objects.get(email=SMALL_EMAIL)
    client = Client()
    client.force_login(User.objects.get(username="tl-viewer"))
    page_size = settings.TIMELINE_PAGE_SIZE
    ok = True

    big_path = f"/records/contacts/{big.pk}/"
    small_path = f"/records/contacts/{small.pk}/"
    for _ in range(WARMUP):
        timed_get(client, big_path)
        timed_get(client, small_path)

    big_queries, big_sql, big_html = _count_queries(client, big_path)
    small_queries, small_sql, small_html = _count_queries(client, small_path)
    shown = {
        "big": big_html.count('class="activity '),
        "small": small_html.count('class="activity '),
    }
    if shown != {"big": page_size, "small": SMALL} or "Load older activity" not in big_html:
        print(f"FAIL the pages show {shown} activities; expected {page_size} and {SMALL}")
        ok = False

    big_samples = [timed_get(client, big_path)[0] for _ in range(REQUESTS)]
    small_samples = [timed_get(client, small_path)[0] for _ in range(REQUESTS)]

    cursor = _cursor_after(big, DEEP_POSITION)
    timeline_path = f"/records/contacts/{big.pk}/timeline/"
    htmx = {"HX-Request": "true", "HX-Target": "timeline-items"}
    for _ in range(WARMUP):
        timed_get(client, timeline_path, {"cursor": cursor}, headers=htmx)
    next_queries, _, next_html = _count_queries(
        client, timeline_path, {"cursor": cursor}, headers=htmx
    )
    if next_html.count('class="activity ') != page_size:
        print(f"FAIL the next page after activity {DEEP_POSITION} is not a full page")
        ok = False
    next_samples = [
        timed_get(client, timeline_path, {"cursor": cursor}, headers=htmx)[0]
        for _ in range(REQUESTS)
    ]

    print(f"timeline page size: {page_size} activities")
    print(f"queries: record with {SMALL} activities: {small_queries}")
    print(f"queries: record with {BIG:,} activities: {big_queries}")
    if big_queries != small_queries:
        print("FAIL query count depends on the timeline's length; the queries were:")
        for label, queries in (("small", small_sql), ("big", big_sql)):
            for sql in queries:
                print(f"  {label}: {sql[:200]}")
        ok = False
    else:
        print("queries independent of length: yes")
    print(f"page, {SMALL} activities:     {describe(small_samples)}")
    print(f"page, {BIG:,} activities: {describe(big_samples)}")
    print(
        f"htmx next page after activity {DEEP_POSITION:,} ({next_queries} queries): "
        f"{describe(next_samples)}"
    )
    value = statistics.median(big_samples)
    met = value < TARGET_MS and big_queries == small_queries
    print(f"target <{TARGET_MS} ms, queries independent of length: {'met' if met else 'MISSED'}")
    print(
        bench_line(
            NAME,
            value,
            "ms",
            None,
            f"<{TARGET_MS} ms, queries independent of length",
        )
    )
    return ok
