"""Searching 100,000 contacts by name and by email through the real list view.

Target: a search on the contacts list (GET /records/contacts/?q=...) answers in under 100 ms
server time with 100,000 contacts. The figure is the median over every term and both users of
the time of the request through Django's test Client (full middleware, count, page, template).
Terms: a surname and a first name many contacts share, a rare full name, an exact address, two
domain fragments (a company's and the most common free-mail one), and a two-word query. Users:
one with "all" access and one with "team" access (who sees about half of the contacts).
Context lines (not in the figure) time one- and two-letter prefixes and the unsearched list.
"""

import os
import random
import statistics
from datetime import timedelta
from types import SimpleNamespace

from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from records.constants import LifecycleStage, RecordAccess, RecordKind, Seat
from records.models import Contact, ContactEmail, Team, User
from records.services import contact_display_name, search_text_for

from .common import bench_line, copy_rows, describe, ensure_dataset, percentile, timed_get
from .contact_import import DOMAIN as IMPORT_DOMAIN

NAME = "contact_search"
TARGET_MS = 100
CONTACTS = 100_000
SEED = 7
SIGNATURE = f"v2 contacts={CONTACTS} seed={SEED}"  # v2: no address on two contacts
WARMUP = 3
REQUESTS = 20

FIRST_NAMES = (
    "james mary john patricia robert jennifer michael linda william elizabeth david barbara "
    "richard susan joseph jessica thomas sarah charles karen christopher nancy daniel lisa "
    "matthew betty anthony margaret mark sandra donald ashley steven kimberly paul emily andrew "
    "donna joshua michelle kenneth dorothy kevin carol brian amanda george melissa timothy "
    "deborah ronald stephanie edward rebecca jason sharon jeffrey laura ryan cynthia jacob "
    "kathleen gary amy nicholas angela eric shirley jonathan anna stephen brenda larry pamela "
    "justin emma scott nicole brandon helen benjamin samantha samuel katherine gregory christine "
    "alexander debra frank rachel patrick carolyn raymond janet jack catherine dennis maria "
    "jerry heather tyler diane aaron ruth jose julie adam olivia henry joyce nathan virginia "
    "douglas victoria zachary kelly peter lauren kyle christina ethan joan walter evelyn noah "
    "judith jeremy megan christian andrea keith cheryl roger hannah terry jacqueline gerald "
    "martha harold gloria sean teresa austin ann carl sara arthur madison lawrence frances "
    "dylan kathryn jesse janice jordan jean bryan abigail billy alice joe judy bruce sophia "
    "gabriel grace logan denise albert amber willie doris alan marilyn juan danielle wayne "
    "beverly elijah isabella randy theresa roy diana vincent natalie ralph brittany eugene "
    "charlotte russell marie bobby kayla mason alexis philip lori louis ingrid"
).split()
LAST_NAMES = (
    "smith johnson williams brown jones garcia miller davis rodriguez martinez hernandez lopez "
    "gonzalez wilson anderson thomas taylor moore jackson martin lee perez thompson white "
    "harris sanchez clark ramirez lewis robinson walker young allen king wright scott torres "
    "nguyen hill flores green adams nelson baker hall rivera campbell mitchell carter roberts "
    "gomez phillips evans turner diaz parker cruz edwards collins reyes stewart morris morales "
    "murphy cook rogers gutierrez ortiz morgan cooper peterson bailey reed kelly howard ramos "
    "kim cox ward richardson watson brooks chavez wood james bennett gray mendoza ruiz hughes "
    "price alvarez castillo sanders patel myers long ross foster jimenez powell jenkins perry "
    "russell sullivan bell coleman butler henderson barnes gonzales fisher vasquez simmons "
    "romero jordan patterson alexander hamilton graham reynolds griffin wallace moreno west "
    "cole hayes bryant herrera gibson ellis tran medina aguilar stevens murray ford castro "
    "marshall owens harrison fernandez mcdonald woods washington kennedy wells vargas henry "
    "chen freeman webb tucker guzman burns crawford olson simpson porter hunter gordon mendez "
    "silva shaw snyder mason dixon munoz hunt hicks holmes palmer wagner black robertson boyd "
    "rose stone salazar fox warren mills meyer rice schmidt garza daniels ferguson nichols "
    "stephens soto weaver ryan gardner payne grant dunn kowalski novak schneider fischer weber "
    "becker hoffmann koch richter klein wolf schroeder neumann schwarz zimmermann braun hartmann"
).split()
FREE_MAIL = (("gmail.com", 22), ("outlook.com", 8), ("yahoo.com", 5), ("icloud.com", 3))
COMPANY_WORDS = (
    "north south east west blue red green bright clear swift prime apex summit harbor river "
    "stone oak pine cedar iron silver golden lumen vector quantum nimbus atlas orbit pixel"
).split()
COMPANY_SUFFIXES = ("wind", "works", "labs", "systems", "logistics", "traders", "health", "bank")
COMPANY_TLDS = ("com", "io", "de", "co.uk", "net")

RARE = ("Philippa", "Vandermolen")  # one contact, and the only one of either name
EXACT_INDEX = 54_321  # the contact whose primary address is searched for


def _company_domains(rng: random.Random) -> list[str]:
    domains = set()
    while len(domains) < 400:
        word = rng.choice(COMPANY_WORDS) + rng.choice(COMPANY_SUFFIXES)
        domains.add(f"{word}.{rng.choice(COMPANY_TLDS)}")
    return sorted(domains)


def _address(rng: random.Random, first: str, last: str, n: int, domain: str) -> str:
    local = rng.choice((f"{first}.{last}", f"{first[0]}{last}", f"{last}.{first}", first))
    return f"{local}{n if rng.random() < 0.5 else ''}@{domain}"


def _unique(address: str, n: int, taken: set[str]) -> str:
    """`address`, or with the contact's number in it when another contact has it already."""
    if address not in taken:
        return address
    local, domain = address.split("@")
    return f"{local.rstrip('0123456789')}{n}@{domain}"


def _people(rng: random.Random):
    """Yield (first, last, [addresses], phone, owner index) for every contact."""
    companies = _company_domains(rng)
    # Names follow Zipf-like curves: the commonest surname ("smith") is on ~7% of contacts.
    last_weights = [1 / (rank + 3) for rank in range(len(LAST_NAMES))]
    first_weights = [1 / (rank + 10) for rank in range(len(FIRST_NAMES))]
    free, free_weights = zip(*FREE_MAIL, strict=True)
    company_weight = 100 - sum(free_weights)
    firsts = rng.choices(FIRST_NAMES, first_weights, k=CONTACTS)
    lasts = rng.choices(LAST_NAMES, last_weights, k=CONTACTS)
    taken: set[str] = set()  # an address belongs to one contact at most
    for n in range(CONTACTS):
        first, last = firsts[n], lasts[n]
        if n == CONTACTS // 3:
            first, last = RARE[0].lower(), RARE[1].lower()
        pick = rng.choices((*free, None), (*free_weights, company_weight))[0]
        domain = pick or rng.choice(companies)
        addresses = [_unique(_address(rng, first, last, n, domain), n, taken)]
        if rng.random() < 0.4:
            other = rng.choice(companies) if pick else rng.choice(free)
            second = _address(rng, first, last, n, other)
            if second != addresses[0] and second not in taken:
                addresses.append(second)
        taken.update(addresses)
        phone = f"+1 {rng.randint(200, 989)} 555 {rng.randint(1000, 9999)}"
        owner = None if rng.random() < 0.04 else rng.randrange(6)
        yield first, last, addresses, phone if rng.random() < 0.7 else "", owner


def _fill() -> None:
    rng = random.Random(SEED)
    teams = [Team.objects.create(name=f"Search bench {side}") for side in ("North", "South")]
    owners = [
        User.objects.create(
            username=f"search-rep{i}",
            first_name="Rep",
            last_name=str(i),
            team=teams[i % 2],
            seat=Seat.SALES,
            record_access=RecordAccess.TEAM,
        )
        for i in range(6)
    ]
    User.objects.create(username="search-all", seat=Seat.SALES, record_access=RecordAccess.ALL)
    User.objects.create(
        username="search-team", team=teams[0], seat=Seat.SALES, record_access=RecordAccess.TEAM
    )
    User.objects.filter(username__startswith="search-").update(password="!")

    now = timezone.now()
    stages = LifecycleStage.values
    # Django's bulk_create costs ~20 s here (model instances, SQL building); COPY with ids
    # taken from the table's own sequence writes the same rows in a couple of seconds.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence('records_record', 'id')) "
            "FROM generate_series(1, %s)",
            [CONTACTS],
        )
        ids = [row[0] for row in cursor.fetchall()]
    records, contacts, emails = [], [], []
    for pk, (first, last, addresses, phone, owner) in zip(ids, _people(rng), strict=True):
        first, last = first.capitalize(), last.capitalize()
        name = contact_display_name(first, last, addresses[0])
        # What contact_save would store: search_text_for reads name, phone and job title.
        digest = search_text_for(SimpleNamespace(name=name, phone=phone), addresses)
        created = now - timedelta(minutes=len(records))
        owner_id = owners[owner].pk if owner is not None else None
        records.append((pk, RecordKind.CONTACT, name, owner_id, "{}", digest, created, now))
        contacts.append((pk, first, last, addresses[0], phone, "", rng.choice(stages)))
        emails += [(pk, address, i == 0) for i, address in enumerate(addresses)]
    record_columns = "id kind name owner_id properties search_text created_at updated_at"
    copy_rows("records_record", record_columns.split(), records)
    contact_columns = "record_ptr_id first_name last_name email phone job_title lifecycle_stage"
    copy_rows("records_contact", contact_columns.split(), contacts)
    copy_rows("records_contactemail", ["contact_id", "address", "is_primary"], emails)


def _own_contacts():
    """This bench's contacts: other benches share the database (timeline's and the single-send
    API's @bench.example, send_throughput's .test addresses, contact_import's file), whichever
    of them ran first."""
    return (
        Contact.objects.exclude(email__endswith="@bench.example")
        .exclude(email__endswith=".test")
        .exclude(email__endswith=f"@{IMPORT_DOMAIN}")
    )


def _verify() -> bool:
    contacts = _own_contacts()
    return (
        contacts.count() == CONTACTS
        and ContactEmail.objects.filter(contact__in=contacts).count() > CONTACTS
        and User.objects.filter(username__in=["search-all", "search-team"]).count() == 2
    )


def _terms() -> list[tuple[str, str]]:
    exact = _own_contacts().order_by("pk").values_list("email", flat=True)[EXACT_INDEX]
    return [
        ("surname, many", "Smith"),
        ("first name, many", "Patricia"),
        ("rare full name", " ".join(RARE)),
        ("exact email", exact),
        ("domain, company", "@northwind"),
        ("domain, free mail", "gmail.com"),
        ("two words", "Maria Garcia"),
    ]


# Context only, not in the figure: what search-as-you-type sends before a word is complete
# (the list re-queries 300 ms after each keystroke), and the list before anything is typed.
CONTEXT_TERMS = [("prefix, 2 letters", "jo"), ("prefix, 1 letter", "j"), ("no query", "")]


def _measure(clients: dict, cases: list[tuple[str, str, str]], path: str) -> dict:
    """Per case: matches, queries, SQL ms of one request, and REQUESTS timings (round-robin)."""
    results = {}
    for access, _, term in cases:
        client = clients[access]
        for _ in range(WARMUP):
            timed_get(client, path, {"q": term})
        with CaptureQueriesContext(connection) as captured:
            _, response = timed_get(client, path, {"q": term})
        # Read the log now: the next request's request_started signal empties it.
        sql_ms = sum(float(q["time"]) for q in captured.captured_queries) * 1000
        matches = response.context["page"].paginator.count
        results[access, term] = (matches, len(captured), sql_ms, [])
    # Round-robin over the cases, so that a burst of load on a shared machine spreads over all.
    for _ in range(REQUESTS):
        for access, _, term in cases:
            results[access, term][3].append(timed_get(clients[access], path, {"q": term})[0])
    for access, label, term in cases:
        matches, queries, sql_ms, times = results[access, term]
        print(
            f"{access:4} access  {label:17} q={term!r:30} {matches:6,} matches, {queries} queries "
            f"(SQL {sql_ms:5.1f} ms): median {statistics.median(times):6.1f} ms, "
            f"p95 {percentile(times, 95):6.1f} ms"
        )
    return {case: result[3] for case, result in results.items()}


def run() -> bool:
    ensure_dataset(NAME, SIGNATURE, _fill, _verify)
    path = "/records/contacts/"
    clients = {}
    for access in ("all", "team"):
        clients[access] = Client()
        clients[access].force_login(User.objects.get(username=f"search-{access}"))
    print(f"contacts: {Contact.objects.count():,}, page size {settings.RECORDS_PAGE_SIZE}")
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")

    cases = [(access, label, term) for access in clients for label, term in _terms()]
    samples = _measure(clients, cases, path)
    print("context, not in the figure:")
    _measure(clients, [("all", label, term) for label, term in CONTEXT_TERMS], path)

    everything = [t for times in samples.values() for t in times]
    worst = max(samples, key=lambda case: statistics.median(samples[case]))
    print(f"all searches: {describe(everything)}")
    print(
        f"slowest: q={worst[1]!r} with {worst[0]} access, "
        f"median {statistics.median(samples[worst]):.1f} ms"
    )
    print(f"machine: load average {os.getloadavg()[0]:.1f} at the end")
    value = statistics.median(everything)
    print(f"target <{TARGET_MS} ms: {'met' if value < TARGET_MS else 'MISSED'}")
    print(bench_line(NAME, value, "ms", None, f"<{TARGET_MS} ms"))
    return True
