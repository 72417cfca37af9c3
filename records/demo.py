"""A believable demo account: two teams, every seat, ~200 contacts and the records around them."""

import random
from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from . import timeline
from .constants import (
    ActivityKind,
    DealStage,
    LifecycleStage,
    PropertyType,
    RecordAccess,
    RecordKind,
    Seat,
    TaskType,
    TicketPriority,
    TicketStatus,
)
from .models import (
    Activity,
    Company,
    Contact,
    CustomObjectType,
    Deal,
    PropertyDefinition,
    Record,
    Team,
    Ticket,
    User,
)
from .services import association_create, contact_save, record_save, task_create

DEMO_PASSWORD = "demo"

# (username, first, last, team, seat, access, admin)
DEMO_USERS = [
    ("admin", "Ada", "Admin", None, Seat.SALES, RecordAccess.ALL, True),
    ("sam", "Sam", "Seller", "Sales", Seat.SALES, RecordAccess.TEAM, False),
    ("sara", "Sara", "Starter", "Sales", Seat.CORE, RecordAccess.OWN, False),
    ("sofia", "Sofia", "Support", "Support", Seat.SERVICE, RecordAccess.TEAM, False),
    ("victor", "Victor", "Viewer", "Support", Seat.VIEW_ONLY, RecordAccess.TEAM, False),
]

FIRST = (
    "Alice Bruno Chiara Dario Elena Fabio Giulia Hugo Irene Jonas Karin Luca Marta Nico Olga "
    "Paolo Queenie Rosa Stefan Tina Ugo Vera Walter Xenia Yusuf Zoe Anna Marco Sofia Pietro".split()
)
LAST = (
    "Rossi Bianchi Müller Dubois García Novak Smith Kowalski Jensen Silva Moreau Costa "
    "Fischer Romano Ricci Weber Martin Lopez Hansen Ferrari".split()
)
COMPANIES = [
    ("Acme Logistics", "acme-logistics.example", "Logistics"),
    ("Brightline Energy", "brightline.example", "Energy"),
    ("Castello Foods", "castellofoods.example", "Food & beverage"),
    ("Dunmore Legal", "dunmore-legal.example", "Legal services"),
    ("Elbe Robotics", "elberobotics.example", "Manufacturing"),
    ("Fjord Analytics", "fjord-analytics.example", "Software"),
    ("Girasole Hotels", "girasole.example", "Hospitality"),
    ("Harbor Health", "harborhealth.example", "Healthcare"),
    ("Iberia Textiles", "iberiatex.example", "Textiles"),
    ("Juniper Schools", "juniper-schools.example", "Education"),
    ("Kestrel Aviation", "kestrel-air.example", "Aviation"),
    ("Lumen Studios", "lumen-studios.example", "Media"),
    ("Mistral Wines", "mistralwines.example", "Food & beverage"),
    ("Nordwind Shipping", "nordwind.example", "Logistics"),
    ("Orbit Telecom", "orbit-telecom.example", "Telecommunications"),
    ("Pinecrest Realty", "pinecrest.example", "Real estate"),
    ("Quarry & Stone", "quarrystone.example", "Construction"),
    ("Riverside Clinics", "riverside-clinics.example", "Healthcare"),
    ("Solaria Panels", "solaria.example", "Energy"),
    ("Tessera Bank", "tessera-bank.example", "Finance"),
]
CITIES = "Milan Turin Berlin Paris Madrid Lisbon Vienna Zurich Dublin Amsterdam".split()
NOTES = [
    "Called about the renewal; they want a proposal by Friday.",
    "Met at the trade fair. Interested in the premium plan for 40 seats.",
    "Asked for a security questionnaire before legal review.",
    "Budget approved for Q3. Decision maker is the CFO.",
    "Prefers email over calls. Follow up after the holidays.",
    "Reported slow exports last week; fixed by support, customer happy.",
]
TASKS = ["Send the proposal", "Follow up on pricing", "Book a demo", "Call back about the invoice"]
TICKET_SUBJECTS = [
    "Cannot log in after password reset",
    "Invoice shows the wrong VAT number",
    "Export to CSV times out",
    "Request to add three more seats",
    "Emails not syncing since Monday",
]


def demo_loaded() -> bool:
    return User.objects.filter(username="admin").exists()


# The demo users' addresses are username@DEMO_DOMAIN (a reserved name: nothing is delivered
# there); the demo commands above records find them by it.
DEMO_DOMAIN = "crm-demo.example"


def demo_users():
    """The users `load_demo` made."""
    return User.objects.filter(email__endswith="@" + DEMO_DOMAIN)


@transaction.atomic
def load_demo(seed: int = 7, contacts: int = 200) -> dict:
    """Create the demo account; returns counts. Refuses to run twice."""
    if demo_loaded():
        return {}
    rng = random.Random(seed)
    now = timezone.now()
    teams = {name: Team.objects.create(name=name) for name in ("Sales", "Support")}
    users = {}
    for username, first, last, team, seat, access, admin in DEMO_USERS:
        user = User(
            username=username,
            first_name=first,
            last_name=last,
            email=f"{username}@{DEMO_DOMAIN}",
            profile_name=f"{first} {last}",
            team=teams.get(team),
            seat=seat,
            record_access=access,
            is_staff=admin,
            is_superuser=admin,
            time_zone="Europe/Rome",
        )
        user.set_password(DEMO_PASSWORD)
        user.save()
        users[username] = user
    owners = [users["sam"], users["sara"], users["sofia"], users["admin"]]

    companies = []
    for name, domain, industry in COMPANIES:
        company = Company(
            kind=RecordKind.COMPANY,
            name=name,
            domain=domain,
            industry=industry,
            city=rng.choice(CITIES),
            owner=rng.choice(owners),
            created_at=now - timedelta(days=rng.randint(30, 400)),
        )
        companies.append(record_save(company))

    people = []
    for i in range(contacts):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        company = companies[i % len(companies)]
        local = f"{first}.{last}".lower().replace("ü", "ue")
        emails = [f"{local}{i}@{company.domain}"]
        if i % 7 == 0:
            emails.append(f"{local}{i}@personal-mail.example")
        contact = Contact(
            first_name=first,
            last_name=last,
            phone=f"+39 02 {rng.randint(1000000, 9999999)}",
            job_title=rng.choice(["CEO", "CFO", "Head of IT", "Buyer", "Office manager", "CTO"]),
            lifecycle_stage=rng.choice(LifecycleStage.values),
            owner=company.owner if rng.random() < 0.8 else rng.choice(owners),
            created_at=now - timedelta(days=rng.randint(1, 300)),
        )
        contact_save(contact, emails)
        association_create(contact, company)
        people.append(contact)

    deals = []
    for i in range(60):
        company = companies[i % len(companies)]
        deal = Deal(
            kind=RecordKind.DEAL,
            name=f"{company.name} — {rng.choice(['Renewal', 'Expansion', 'New business'])}",
            stage=rng.choice(DealStage.values),
            amount=Decimal(rng.randrange(2000, 90000, 500)),
            close_date=(now + timedelta(days=rng.randint(-60, 120))).date(),
            owner=company.owner,
        )
        record_save(deal)
        association_create(deal, company)
        colleagues = [p for p in people if p.email.endswith(company.domain)]
        for contact in rng.sample(colleagues, min(2, len(colleagues))):
            association_create(deal, contact)
        deals.append(deal)

    for _ in range(30):
        contact = rng.choice(people)
        ticket = Ticket(
            kind=RecordKind.TICKET,
            name=rng.choice(TICKET_SUBJECTS),
            status=rng.choice(TicketStatus.values),
            priority=rng.choice(TicketPriority.values),
            owner=users["sofia"],
            description="Reported by email.",
        )
        record_save(ticket)
        association_create(ticket, contact)

    project_type = CustomObjectType.objects.create(
        name="Project", plural="Projects", slug="projects"
    )
    for position, (key, label, kind, options) in enumerate(
        [
            ("status", "Status", PropertyType.CHOICE, ["Planned", "Running", "Done"]),
            ("budget", "Budget", PropertyType.NUMBER, []),
            ("start_date", "Start date", PropertyType.DATE, []),
            ("billable", "Billable", PropertyType.BOOLEAN, []),
        ]
    ):
        PropertyDefinition.objects.create(
            object_type=project_type,
            key=key,
            label=label,
            type=kind,
            options=options,
            position=position,
        )
    for i, company in enumerate(companies[:12]):
        project = Record(
            kind=RecordKind.CUSTOM,
            custom_type=project_type,
            owner=company.owner,
            name=f"{company.name} rollout",
            properties={
                "status": ["Planned", "Running", "Done"][i % 3],
                "budget": str(5000 + i * 1500),
                "start_date": (now - timedelta(days=i * 9)).date().isoformat(),
                "billable": i % 2 == 0,
            },
        )
        record_save(project)
        association_create(project, company)

    for contact in people[:120]:
        for _ in range(rng.randint(1, 3)):
            timeline.log(
                ActivityKind.NOTE,
                [contact],
                created_by=contact.owner or users["admin"],
                body=rng.choice(NOTES),
                occurred_at=now - timedelta(hours=rng.randint(1, 2000)),
            )
        if rng.random() < 0.4:
            task_create(
                contact.owner or users["admin"],
                contact,
                title=rng.choice(TASKS),
                task_type=rng.choice(TaskType.values),
                due_at=now + timedelta(days=rng.randint(1, 14)),
            )
    return {
        "users": User.objects.count(),
        "contacts": Contact.objects.count(),
        "companies": Company.objects.count(),
        "deals": Deal.objects.count(),
        "tickets": Ticket.objects.count(),
        "custom records": Record.objects.filter(kind=RecordKind.CUSTOM).count(),
        "activities": Activity.objects.count(),
    }
