"""Sync follows the account's logging rules (Settings > Email > Logging): what `decide` keeps
and skips, with which reason, and the records a kept email goes on. Headers as an adapter
gives them; the IMAP path end to end is in tests/integration/test_sync_logging_rules.py."""

from datetime import timedelta
from email.utils import make_msgid
from itertools import count

import pytest
from django.utils import timezone

from mailboxes.constants import LogMode
from mailboxes.logging_rules import rules as logging_rules
from mailboxes.models import EmailMessage, FolderSync, LoggingRules
from mailboxes.providers.base import FetchedHeader
from mailboxes.sync.decide import SKIP_NEVER_LOG, SKIP_NO_CONTACT, SKIP_NOT_CRM_REPLY, decide
from mailboxes.sync.engine import write_page
from records.constants import DealStage, RecordKind, TicketStatus
from records.models import ActivityLink, Contact, CustomObjectType, Record
from records.services import association_create, contacts_for_addresses, record_save
from tests.factories import CompanyFactory, ContactFactory, DealFactory, TicketFactory
from tests.mailboxes.inboxes import offline_mailbox
from tests.mailboxes.outbox import submit

pytestmark = pytest.mark.django_db

ME = "rep@crm.example"
_refs = count(1)


def header(sender, to=(ME,), *, cc=(), name="", in_reply_to=None, raw=b"", date=None):
    return FetchedHeader(
        ref=str(next(_refs)),
        message_id=make_msgid(domain="test.example"),
        in_reply_to=in_reply_to,
        references=(in_reply_to,) if in_reply_to else (),
        from_addr=sender,
        to_addrs=tuple(to),
        cc_addrs=tuple(cc),
        subject="Hello",
        date=date or timezone.now(),
        size=100,
        flags=(),
        from_name=name,
        raw_headers=raw,
    )


def save_rules(**fields) -> LoggingRules:
    rules = LoggingRules.load()
    for name, value in fields.items():
        setattr(rules, name, value)
    rules.save()
    return rules


def write(inbox, kept) -> list[EmailMessage]:
    """Write the kept messages of a decided page as sync does, and return their rows."""
    folder, _ = FolderSync.objects.get_or_create(mailbox=inbox, folder="INBOX", role="inbox")
    ids = write_page(inbox, folder, kept, {})
    return list(EmailMessage.objects.filter(pk__in=ids).order_by("pk"))


@pytest.fixture
def inbox(owner):
    return offline_mailbox(owner, email=ME)


def test_the_own_domains_are_never_logged_until_an_admin_saves_the_rules(owner, inbox):
    offline_mailbox(owner, email="rep@gmail.com")  # a public mail service is no own domain
    colleague = ContactFactory(owner=owner, emails=["boss@crm.example"])
    assert logging_rules.current().never_log == ["crm.example"]

    decision = decide(inbox, [header("boss@crm.example"), header(ME, ["boss@eu.crm.example"])])

    assert decision.kept == []
    assert decision.skipped == {SKIP_NEVER_LOG: 2}
    save_rules(never_log=[])  # the admin emptied the list
    kept = decide(inbox, [header("boss@crm.example")]).kept
    assert [k.contact_ids for k in kept] == [[colleague.pk]]


def test_a_never_log_domain_covers_its_subdomains_and_an_address_any_case(owner, inbox):
    save_rules(never_log=["partner.example", "spouse@home.example"])
    for address in ("ana@partner.example", "ana@mail.eu.partner.example", "spouse@home.example"):
        ContactFactory(owner=owner, emails=[address])
    page = [
        header("Ana@Partner.example"),
        header("ana@mail.eu.partner.example"),
        header("SPOUSE@home.example"),
        header(ME, ["ana@partner.example", "spouse@home.example"]),
        header("ana@notpartner.example"),  # another domain that ends alike
    ]
    decision = decide(inbox, page)

    assert decision.skipped == {SKIP_NEVER_LOG: 4, SKIP_NO_CONTACT: 1}


def test_a_never_logged_participant_gets_nothing_and_the_others_their_email(owner, inbox):
    save_rules(never_log=["home.example"])
    customer = ContactFactory(owner=owner, emails=["olga@client.example"])
    spouse = ContactFactory(owner=owner, emails=["kim@home.example"])
    kept = decide(inbox, [header(ME, ["olga@client.example"], cc=["kim@home.example"])]).kept
    assert [k.contact_ids for k in kept] == [[customer.pk]]
    [message] = write(inbox, kept)
    assert list(ActivityLink.objects.values_list("record_id", flat=True)) == [customer.pk]
    assert spouse.pk not in set(message.contacts.values_list("pk", flat=True))


def test_replies_only_logs_the_threads_of_email_sent_from_the_crm(owner, inbox):
    save_rules(never_log=[], log_mode=LogMode.REPLIES)
    contact = ContactFactory(owner=owner, emails=["olivia@acme.example"])
    sent = submit(owner, inbox, to=["olivia@acme.example"]).message
    synced = decide(inbox, [header("olivia@acme.example")], logging_rules.Rules(replies_only=False))
    [logged] = write(inbox, synced.kept)  # logged earlier, in "all mail" mode

    decision = decide(
        inbox,
        [
            header("olivia@acme.example", in_reply_to=sent.message_id),
            header(ME, ["olivia@acme.example"], in_reply_to=sent.message_id),
            header("olivia@acme.example", in_reply_to=logged.message_id),
            header("olivia@acme.example"),
            header(ME, ["olivia@acme.example"]),
        ],
    )

    assert [(k.header.in_reply_to, k.contact_ids) for k in decision.kept] == [
        (sent.message_id, [contact.pk]),
        (sent.message_id, [contact.pk]),
    ]
    assert decision.skipped == {SKIP_NOT_CRM_REPLY: 3}


def test_all_mail_mode_logs_what_it_always_did(owner, inbox):
    save_rules(never_log=[])
    contact = ContactFactory(owner=owner, emails=["olivia@acme.example"])
    decision = decide(inbox, [header("olivia@acme.example"), header(ME, ["olivia@acme.example"])])
    assert [k.contact_ids for k in decision.kept] == [[contact.pk], [contact.pk]]


def test_unknown_senders_become_contacts_of_the_inbox_owner_when_the_rules_say_so(owner, inbox):
    page = [
        header("Lena.Berg@Client.example", name="Lena Berg"),
        header("lena.berg@client.example", name="Lena Berg"),
        header("tom@client.example", name="Hart, Tom"),
    ]
    off = decide(inbox, page)
    assert off.kept == [] and off.skipped == {SKIP_NO_CONTACT: 3}

    save_rules(never_log=[], create_contacts=True, contacts_since=timezone.now() - timedelta(1))
    decision = decide(inbox, page)
    messages = write(inbox, decision.kept)

    lena = Contact.objects.get(email="lena.berg@client.example")
    tom = Contact.objects.get(email="tom@client.example")
    assert (lena.first_name, lena.last_name, lena.owner, lena.name) == (
        "Lena",
        "Berg",
        owner,
        "Lena Berg",
    )
    assert (tom.first_name, tom.last_name) == ("Tom", "Hart")
    assert list(lena.emails.values_list("address", "is_primary")) == [
        ("lena.berg@client.example", True)
    ]
    assert [list(m.contacts.all()) for m in messages] == [[lena], [lena], [tom]]
    assert [m.match_reason for m in messages] == ["address"] * 3
    assert "New contact for the unknown sender lena.berg@client.example" in messages[0].match_detail
    assert ActivityLink.objects.filter(record=lena).count() == 2
    # Found by search like any contact.
    assert Record.objects.filter(search_text__contains="lena.berg@client.example").count() == 1


def test_no_contact_is_made_of_machines_lists_the_never_logged_or_old_mail(owner, inbox):
    since = timezone.now() - timedelta(hours=1)
    save_rules(never_log=["home.example"], create_contacts=True, contacts_since=since)
    ContactFactory(owner=owner, emails=["olga@client.example"])
    page = [
        header("noreply@shop.example"),
        header("no-reply+tracking@shop.example"),
        header("newsletter@shop.example"),
        header("dev-request@lists.example"),
        header("ooo@client.example", raw=b"Auto-Submitted: auto-replied\r\n"),
        header("list@client.example", raw=b"Precedence: list\r\n"),
        header("bulk@client.example", raw=b"Precedence: bulk\r\n"),
        header("kim@home.example"),
        header("old@client.example", date=since - timedelta(days=30)),
        header(ME, ["new@client.example"]),  # the rep writing: no sender to make
    ]
    decision = decide(inbox, page)

    assert decision.kept == []
    assert decision.skipped == {SKIP_NO_CONTACT: 9, SKIP_NEVER_LOG: 1}
    # A person who writes to a contact becomes one too, and the email goes on both.
    [kept] = decide(inbox, [header("new@client.example", cc=["olga@client.example"])]).kept
    assert kept.new_sender == ("new@client.example", "")
    write(inbox, [kept])
    assert Contact.objects.filter(email="new@client.example", name="new@client.example").exists()
    assert sorted(kept.contact_ids) == sorted(
        Contact.objects.filter(email__in=["new@client.example", "olga@client.example"]).values_list(
            "pk", flat=True
        )
    )


def test_an_address_a_contact_got_meanwhile_keeps_its_one_contact(owner, inbox):
    save_rules(never_log=[], create_contacts=True)
    [kept] = decide(inbox, [header("late@client.example", name="Late Comer")]).kept
    first = ContactFactory(owner=owner, emails=["late@client.example"])  # after the decision
    write(inbox, [kept])
    assert list(Contact.objects.all()) == [first]
    assert kept.contact_ids == [first.pk]


@pytest.fixture
def crowded(owner):
    """A contact associated with a company, open and closed deals and tickets, a custom
    object's record and another contact."""
    contact = ContactFactory(owner=owner, emails=["olivia@acme.example"])
    projects = CustomObjectType.objects.create(name="Project", plural="Projects", slug="projects")
    linked = {
        "company": CompanyFactory(owner=owner),
        "open deal": DealFactory(owner=owner),
        "won deal": DealFactory(owner=owner, stage=DealStage.WON),
        "lost deal": DealFactory(owner=owner, stage=DealStage.LOST),
        "open ticket": TicketFactory(owner=owner, status=TicketStatus.WAITING_US),
        "closed ticket": TicketFactory(owner=owner, status=TicketStatus.CLOSED),
        "project": record_save(
            Record(kind=RecordKind.CUSTOM, custom_type=projects, name="Move", owner=owner)
        ),
        "colleague": ContactFactory(owner=owner, emails=["peer@acme.example"]),
    }
    for record in linked.values():
        association_create(contact, record)
    return contact, linked


def records_of(inbox, rules) -> set[int]:
    [kept] = decide(inbox, [header("olivia@acme.example")], rules).kept
    return kept.record_ids


@pytest.mark.parametrize(
    ("switches", "names"),
    [
        ({}, {"company", "open deal", "open ticket", "project", "colleague"}),
        ({"on_companies": False}, {"open deal", "open ticket", "project", "colleague"}),
        ({"on_open_deals": False}, {"company", "open ticket", "project", "colleague"}),
        ({"on_open_tickets": False}, {"company", "open deal", "project", "colleague"}),
        (
            {"on_companies": False, "on_open_deals": False, "on_open_tickets": False},
            {"project", "colleague"},
        ),
    ],
)
def test_a_logged_email_goes_on_the_associated_records_the_switches_name(
    inbox, crowded, switches, names
):
    contact, linked = crowded
    expected = {contact.pk} | {linked[name].pk for name in names}
    assert records_of(inbox, logging_rules.Rules(**switches)) == expected


def test_the_switches_leave_the_records_of_the_email_it_replies_to(owner, inbox, crowded):
    contact, linked = crowded
    rules = logging_rules.Rules(on_open_deals=False)
    # The rep wrote it from the won deal's page: the reply goes there too.
    sent = submit(
        owner, inbox, to=["olivia@acme.example"], records=[contact, linked["won deal"]]
    ).message
    [kept] = decide(inbox, [header("olivia@acme.example", in_reply_to=sent.message_id)], rules).kept
    assert linked["won deal"].pk in kept.record_ids
    assert linked["open deal"].pk not in kept.record_ids


def test_deciding_a_page_takes_the_same_queries_whatever_its_length(
    owner, inbox, crowded, django_assert_num_queries
):
    save_rules(never_log=["home.example"], log_mode=LogMode.REPLIES, create_contacts=True)
    sent = submit(owner, inbox, to=["olivia@acme.example"]).message

    def page(n):
        return [
            header(f"someone{i}@client.example", cc=["olivia@acme.example", "kim@home.example"])
            if i % 2
            else header("olivia@acme.example", in_reply_to=sent.message_id)
            for i in range(n)
        ]

    # The rules, the inbox's aliases, contacts, known messages, tombstones, the threads of CRM
    # email, associations, the records of the emails replied to.
    with django_assert_num_queries(8):
        assert len(decide(inbox, page(2)).kept) == 1
    with django_assert_num_queries(8):
        assert len(decide(inbox, page(60)).kept) == 30


def test_contacts_are_created_once_for_the_addresses_without_one(owner):
    taken = ContactFactory(owner=owner, emails=["taken@client.example"])
    people = {f"p{i}@client.example": (f"P{i}", "Person") for i in range(5)}
    people["taken@client.example"] = ("Someone", "Else")

    created = contacts_for_addresses(people, owner.pk)

    assert created["taken@client.example"] == taken.pk
    assert Contact.objects.count() == 6
    assert contacts_for_addresses(people, None) == created
    assert Contact.objects.get(email="p3@client.example").name == "P3 Person"


def test_creating_contacts_for_a_page_takes_a_few_statements(
    postgresql, owner, django_assert_max_num_queries
):
    people = {f"p{i}@client.example": (f"P{i}", "Person") for i in range(200)}
    # Who has them, a savepoint, the keys, three COPYs, the savepoint's release.
    with django_assert_max_num_queries(10):
        contacts_for_addresses(people, owner.pk)
    assert Contact.objects.count() == 200
