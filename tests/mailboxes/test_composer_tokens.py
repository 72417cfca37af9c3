"""Tokens: filled from the record an email is written on and its associations, with fallbacks;
those left without a value are listed when a template is inserted and refuse the send."""

import pytest

from mailboxes.composer import tokens
from mailboxes.composer.drafts import ComposeError, Draft, email_submit
from mailboxes.models import EmailMessage, EmailTemplate
from records.constants import DealStage
from records.services import association_create
from tests.factories import CompanyFactory, ContactFactory, DealFactory, TicketFactory
from tests.mailboxes.inboxes import offline_mailbox

pytestmark = pytest.mark.django_db


@pytest.fixture
def inbox(owner):
    return offline_mailbox(owner)


@pytest.fixture
def deal(owner, contact):
    """A deal of Olivia's, at Acme."""
    deal = DealFactory(owner=owner, name="Acme renewal", amount=1500, stage=DealStage.QUALIFIED)
    acme = CompanyFactory(owner=owner, name="Acme", domain="acme.example", city="Turin")
    association_create(deal, contact)
    association_create(deal, acme)
    return deal


def fill(text, context):
    return tokens.fill_text(text, context)


def test_a_deal_fills_its_contact_company_and_own_fields_through_its_associations(
    owner, contact, deal
):
    context = tokens.context_for(owner, deal)
    filled = fill(
        "Hi {{ contact.first_name }} of {{ company.name }} ({{ company.city }}): "
        "{{ deal.name }}, {{ deal.stage }}, {{ sender.name }}",
        context,
    )
    assert filled.text == (
        f"Hi Olivia of Acme (Turin): Acme renewal, Qualified to buy, {owner.display_name}"
    )
    assert filled.missing == []


def test_a_contacts_company_fills_company_tokens_when_the_record_has_none(owner, contact):
    acme = CompanyFactory(owner=owner, name="Acme")
    association_create(contact, acme)
    ticket = TicketFactory(owner=owner, name="Broken login")
    association_create(ticket, contact)
    context = tokens.context_for(owner, ticket)
    filled = fill("{{ contact.last_name }} at {{ company.name }}: {{ ticket.name }}", context)
    assert filled.text == "Owned at Acme: Broken login"


def test_the_recipient_fills_contact_tokens_before_the_records_first_contact(owner, contact, deal):
    bob = ContactFactory(owner=owner, first_name="Bob", emails=["bob@acme.example"])
    association_create(deal, bob)
    assert fill("{{ contact.first_name }}", tokens.context_for(owner, deal)).text == "Bob"
    to_olivia = tokens.context_for(owner, deal, ["OLIVIA@acme.example"])
    assert fill("{{ contact.first_name }}", to_olivia).text == "Olivia"


def test_records_the_rep_may_not_see_fill_nothing(owner, outsider, contact, deal):
    theirs = ContactFactory(owner=outsider, first_name="Secret", emails=["secret@red.example"])
    association_create(deal, theirs)
    context = tokens.context_for(owner, deal, ["secret@red.example"])
    assert context.contact == contact  # not the outsider's contact, though it is the recipient
    lone = DealFactory(owner=owner)
    association_create(lone, theirs)
    assert fill("Hi {{ contact.first_name }}", tokens.context_for(owner, lone)).missing == [
        "contact.first_name"
    ]


def test_missing_tokens_stay_as_written_and_are_listed_once_in_order(owner):
    context = tokens.context_for(owner, DealFactory(owner=owner))
    filled = fill(
        "Hi {{contact.first_name}}, {{ company.name }} and {{ contact.first_name }} "
        "{{ contact.shoe_size }}",
        context,
    )
    assert filled.text == (
        "Hi {{contact.first_name}}, {{ company.name }} and {{ contact.first_name }} "
        "{{ contact.shoe_size }}"
    )
    assert filled.missing == ["contact.first_name", "company.name", "contact.shoe_size"]
    assert tokens.label("contact.first_name") == "Contact first name"
    assert tokens.label("contact.shoe_size") == "Unknown token"


@pytest.mark.parametrize(
    "written",
    [
        '{{ contact.first_name | default:"there" }}',
        "{{ contact.first_name|default:'there' }}",
        "{{contact.first_name | default : “there”}}",
    ],
)
def test_a_fallback_fills_a_token_without_a_value(owner, written):
    context = tokens.context_for(owner, DealFactory(owner=owner))
    assert fill(f"Hi {written},", context) == tokens.Filled("Hi there,", [])


def test_a_value_wins_over_the_fallback_and_is_escaped_in_html(owner, contact):
    contact.first_name = "<b>Liv</b> & co"
    contact.save()
    context = tokens.context_for(owner, contact)
    filled = tokens.fill_html('<p>Hi {{ contact.first_name | default:"there" }}</p>', context)
    assert filled.text == "<p>Hi &lt;b&gt;Liv&lt;/b&gt; &amp; co</p>"
    assert fill("{{ contact.first_name }}", context).text == "<b>Liv</b> & co"  # a subject


def test_tokens_of_the_quoted_email_are_neither_filled_nor_flagged(owner, contact):
    html = (
        "<p>Hi {{ contact.first_name }}</p>"
        '<blockquote class="crm-quote"><p>Dear {{ contact.job_title }}</p>'
        "<blockquote><p>{{ deal.name }}</p></blockquote></blockquote><p>{{ sender.name }}</p>"
    )
    filled = tokens.fill_html(html, tokens.context_for(owner, contact))
    assert filled.missing == []
    assert filled.text == (
        "<p>Hi Olivia</p>"
        '<blockquote class="crm-quote"><p>Dear {{ contact.job_title }}</p>'
        "<blockquote><p>{{ deal.name }}</p></blockquote></blockquote>"
        f"<p>{owner.display_name}</p>"
    )


def test_the_menu_lists_every_token_with_its_words():
    menu = dict(tokens.menu())
    assert menu["{{ contact.first_name }}"] == "Contact first name"
    assert menu["{{ deal.amount }}"] == "Deal amount"
    assert len(menu) == sum(len(fields) for fields in tokens.FIELDS.values())


# --- inserting a template -------------------------------------------------------------------


def test_a_template_on_a_deal_comes_filled_with_its_missing_tokens_listed(
    client, owner, inbox, contact, deal
):
    template = EmailTemplate.objects.create(
        owner=owner,
        name="Renewal",
        subject="{{ deal.name }} for {{ company.name }}",
        body="Hi {{ contact.first_name }},\n\nAs {{ contact.job_title }} you will like it."
        "\n{{ company.industry | default:'your field' }}",
    )
    client.force_login(owner)
    answer = client.get(f"/records/deals/{deal.pk}/email/templates/{template.pk}/").json()
    assert answer["subject"] == "Acme renewal for Acme"
    # Written as plain text, its line breaks are kept as paragraphs and line breaks.
    assert answer["html"] == (
        "<p>Hi Olivia,</p>\n\n<p>As {{ contact.job_title }} you will like it.<br>your field</p>"
    )
    assert answer["missing"] == [
        {
            "key": "contact.job_title",
            "text": "{{ contact.job_title }}",
            "label": "Contact job title",
        }
    ]


def test_a_template_follows_the_to_address_typed_so_far(client, owner, inbox, contact, deal):
    bob = ContactFactory(owner=owner, first_name="Bob", emails=["bob@acme.example"])
    association_create(deal, bob)
    template = EmailTemplate.objects.create(
        owner=owner, name="Hi", subject="Hi", body="<p>Hi {{ contact.first_name }}</p>"
    )
    client.force_login(owner)
    url = f"/records/deals/{deal.pk}/email/templates/{template.pk}/"
    assert client.get(url).json()["html"] == "<p>Hi Bob</p>"
    assert client.get(url, {"to": "olivia@acme.example"}).json()["html"] == "<p>Hi Olivia</p>"


# --- sending --------------------------------------------------------------------------------


def draft(owner, inbox, record, **changes):
    values = dict(
        sender=owner,
        from_key=f"{inbox.pk}:{inbox.email}",
        to=["olivia@acme.example"],
        subject="Renewal",
        html="<p>Hi {{ contact.first_name }},</p>",
        records=[record],
        track=False,
    )
    values.update(changes)
    return Draft(**values)


def test_a_token_without_a_value_refuses_the_send(owner, inbox, contact, deal):
    with pytest.raises(ComposeError) as refused:
        email_submit(
            draft(owner, inbox, deal, subject="For {{ contact.job_title }}", to=["x@else.example"])
        )
    assert refused.value.missing_tokens == ["contact.job_title"]
    message = " ".join(refused.value.message_dict["html"])
    assert "{{ contact.job_title }}" in message and "default" in message
    assert not EmailMessage.objects.exists()


def test_tokens_are_filled_when_the_email_is_sent(owner, inbox, contact, deal):
    message = email_submit(
        draft(
            owner,
            inbox,
            deal,
            subject="{{ deal.name }}",
            html="<p>Hi {{ contact.first_name }}, {{ contact.job_title | default:'friend' }}</p>",
        )
    )
    assert message.subject == "Acme renewal"
    assert "<p>Hi Olivia, friend</p>" in message.html_body


def test_many_contacts_contexts_are_each_ones_context_in_a_few_queries(
    owner, outsider, teammate, contact, deal, django_assert_max_num_queries
):
    """contexts_for_contacts (a sequence's batch) fills what context_for fills for each
    (sender, contact): the first visible company, deal and ticket by name, whoever sends."""
    zeta = CompanyFactory(owner=owner, name="Zeta")
    association_create(contact, zeta)
    association_create(contact, CompanyFactory(owner=owner, name="Alpha"))
    association_create(contact, TicketFactory(owner=owner, name="Broken login"))
    hidden = ContactFactory(owner=owner, first_name="Hidden")
    association_create(hidden, CompanyFactory(owner=outsider, name="Not yours"))
    association_create(hidden, DealFactory(owner=owner, name="Yours"))
    lone = ContactFactory(owner=owner)
    theirs = ContactFactory(owner=outsider)
    association_create(theirs, CompanyFactory(owner=outsider, name="Red corp"))
    pairs = [
        (owner, contact),
        (owner, hidden),
        (owner, lone),
        (outsider, theirs),
        (outsider, hidden),
        (teammate, contact),
    ]

    # One query a sender, one a kind found.
    with django_assert_max_num_queries(3 + 3):
        contexts = tokens.contexts_for_contacts(pairs)

    for (user, record), batch in zip(pairs, contexts, strict=True):
        alone = tokens.context_for(user, record)
        assert (batch.sender, batch.contact) == (user, record)
        assert (batch.company, batch.deal, batch.ticket) == (
            alone.company,
            alone.deal,
            alone.ticket,
        )
    assert contexts[0].company.name == "Alpha" and contexts[0].deal == deal
    assert (contexts[1].company, contexts[1].deal.name) == (None, "Yours")
    assert contexts[3].company.name == "Red corp" and contexts[4].company.name == "Not yours"
