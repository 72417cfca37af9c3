"""The account's logging rules on the real IMAP sync path (Dovecot): what reaches a timeline,
what is counted as skipped and why, and the contacts made for unknown senders."""

from datetime import timedelta
from email.utils import make_msgid

import pytest
from django.utils import timezone

from mailboxes.constants import LogMode
from mailboxes.models import EmailMessage, FolderSync
from mailboxes.sync.engine import sync_mailbox
from records.models import ActivityLink, Contact
from records.services import association_create
from tests.factories import CompanyFactory, ContactFactory, DealFactory
from tests.integration.test_sync_imap import ME, mime
from tests.mailboxes.inboxes import imap_mailbox
from tests.mailboxes.outbox import submit
from tests.mailboxes.test_logging_rules_sync import save_rules

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


@pytest.fixture
def inbox(dovecot, owner):
    return imap_mailbox(owner, dovecot, email=ME)


def skip_reasons(inbox, role="inbox") -> dict:
    return FolderSync.objects.get(mailbox=inbox, role=role).skip_reasons


def test_a_never_log_domain_keeps_a_synced_reply_off_the_timeline(dovecot, inbox, owner):
    contact = ContactFactory(owner=owner, emails=["bob@client.example"])
    plan = make_msgid(domain="crm.example")
    dovecot.deliver(mime(ME, "bob@client.example", "Plan", message_id=plan), folder="Sent")
    sync_mailbox(inbox.pk)
    assert ActivityLink.objects.filter(record=contact).count() == 1

    save_rules(never_log=["partner.example"])
    # Bob forwarded the plan to his adviser, whose reply to the thread comes to the rep.
    dovecot.deliver(mime("adviser@eu.partner.example", ME, "Re: Plan", in_reply_to=plan))
    # Bob's own reply, copying the adviser, is logged on Bob alone.
    dovecot.deliver(
        mime(
            "bob@client.example",
            ME,
            "Re: Plan (Bob)",
            in_reply_to=plan,
            extra={"Cc": "adviser@eu.partner.example"},
        )
    )
    assert sync_mailbox(inbox.pk) == 1

    assert not EmailMessage.objects.filter(subject="Re: Plan").exists()
    assert ActivityLink.objects.filter(record=contact).count() == 2
    bob_reply = EmailMessage.objects.get(subject="Re: Plan (Bob)")
    assert list(bob_reply.contacts.all()) == [contact]
    assert skip_reasons(inbox) == {"never-log list": 1}
    state = FolderSync.objects.get(mailbox=inbox, role="inbox")
    assert (state.seen, state.logged, state.skipped) == (2, 1, 1)


def test_mail_among_colleagues_is_not_logged_by_default(dovecot, inbox, owner):
    """Until an admin saves the rules, the inboxes' own domain is on the never-log list."""
    ContactFactory(owner=owner, emails=["boss@crm.example"])  # a colleague kept as a contact
    dovecot.deliver(mime("boss@crm.example", ME, "Lunch?"))
    sync_mailbox(inbox.pk)
    assert not EmailMessage.objects.exists()
    assert skip_reasons(inbox) == {"never-log list": 1}


def test_unknown_senders_become_contacts_only_when_the_rules_say_so(dovecot, inbox, owner):
    dovecot.deliver(mime("Lena Berg <lena@client.example>", ME, "A question"))
    sync_mailbox(inbox.pk)
    assert not Contact.objects.exists()
    assert skip_reasons(inbox) == {"no CRM contact": 1}

    save_rules(create_contacts=True, contacts_since=timezone.now() - timedelta(minutes=1))
    dovecot.deliver(mime("Lena Berg <lena@client.example>", ME, "Another question"))
    dovecot.deliver(mime("Tom <tom@client.example>", ME, "Hello"))
    dovecot.deliver(
        mime("Shop <noreply@shop.example>", ME, "Your order", extra={"Precedence": "bulk"})
    )
    dovecot.deliver(mime("Away <away@client.example>", ME, "Out of office: Re: Hello"))
    assert sync_mailbox(inbox.pk) == 2

    lena = Contact.objects.get(email="lena@client.example")
    assert (lena.first_name, lena.last_name, lena.owner) == ("Lena", "Berg", owner)
    assert list(EmailMessage.objects.filter(contacts=lena).values_list("subject", flat=True)) == [
        "Another question"
    ]  # the mail before the rule stays out
    assert Contact.objects.filter(email="tom@client.example", first_name="Tom").exists()
    assert Contact.objects.count() == 2
    assert skip_reasons(inbox) == {"no CRM contact": 3}


def test_replies_only_logs_the_answers_to_email_sent_from_the_crm(dovecot, inbox, owner):
    contact = ContactFactory(owner=owner, emails=["olivia@acme.example"])
    save_rules(log_mode=LogMode.REPLIES)
    sent = submit(owner, inbox, to=["olivia@acme.example"]).message
    dovecot.deliver(
        mime("olivia@acme.example", ME, "Re: Our proposal", in_reply_to=sent.message_id)
    )
    dovecot.deliver(mime("olivia@acme.example", ME, "Something else"))
    dovecot.deliver(mime(ME, "olivia@acme.example", "From my mail client"), folder="Sent")

    assert sync_mailbox(inbox.pk) == 1

    reply = EmailMessage.objects.get(subject="Re: Our proposal")
    assert reply.thread_id == sent.thread_id
    assert list(reply.contacts.all()) == [contact]
    assert skip_reasons(inbox) == {"not a reply to email sent from the CRM": 1}
    assert skip_reasons(inbox, "sent") == {"not a reply to email sent from the CRM": 1}


def test_the_switches_choose_the_associated_records_of_synced_mail(dovecot, inbox, owner):
    contact = ContactFactory(owner=owner, emails=["anna@client.example"])
    company = CompanyFactory(owner=owner)
    deal = DealFactory(owner=owner)
    won = DealFactory(owner=owner, stage="closedwon")
    for record in (company, deal, won):
        association_create(contact, record)
    save_rules(on_companies=False)
    dovecot.deliver(mime("anna@client.example", ME, "Order"))

    sync_mailbox(inbox.pk)

    message = EmailMessage.objects.get()
    on = set(ActivityLink.objects.filter(activity=message.activity).values_list("record_id"))
    assert on == {(contact.pk,), (deal.pk,)}
