"""Every form of the app keeps what was typed when the server refuses it (the composer's own
tests cover the composer). Each test types distinctive values, makes one of them wrong, and
reads the values back from the form the answer shows."""

from html.parser import HTMLParser

import pytest

from mailboxes.models import TeamInbox
from privacy.models import PrivacySettings, SubscriptionType
from records.models import CustomObjectType, PropertyDefinition
from records.services import association_create
from tests.factories import CompanyFactory, ContactFactory, TeamFactory
from tests.mailboxes.inboxes import offline_mailbox
from tests.sequences.builder_data import email, posted, task

HTMX = {"HTTP_HX_REQUEST": "true"}


class _FormValues(HTMLParser):
    """The values a browser would submit from the form `form_id` (or every form)."""

    def __init__(self, form_id: str | None):
        super().__init__()
        self.form_id = form_id
        self.values: dict[str, str] = {}
        self._in_form = form_id is None
        self._textarea = self._select = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and self.form_id is not None:
            self._in_form = attrs.get("id") == self.form_id
        name = attrs.get("name")
        if not self._in_form:
            return
        if tag == "input" and name and attrs.get("type") not in ("hidden", "submit"):
            if attrs.get("type") in ("checkbox", "radio"):
                if "checked" in attrs:
                    self.values[name] = attrs.get("value", "on")
            else:
                self.values[name] = attrs.get("value") or ""
        elif tag == "textarea" and name:
            self._textarea = name
            self.values[name] = ""
        elif tag == "select" and name:
            self._select = name
        elif tag == "option" and self._select and "selected" in attrs:
            self.values[self._select] = attrs.get("value", "")

    def handle_endtag(self, tag):
        if tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None
        elif tag == "form" and self.form_id is not None:
            self._in_form = False

    def handle_data(self, data):
        if self._textarea:
            self.values[self._textarea] += data


def assert_kept(response, typed: dict, form_id: str | None = None, *, status=200) -> None:
    assert response.status_code == status
    parser = _FormValues(form_id)
    parser.feed(response.content.decode())
    # Django's <textarea> starts with a newline, which browsers drop.
    shown = {k: v.removeprefix("\n") for k, v in parser.values.items()}
    assert {k: shown.get(k) for k in typed} == {k: str(v) for k, v in typed.items()}


# Records


def test_a_refused_new_contact_keeps_every_field(client, owner):
    client.force_login(owner)
    typed = {
        "first_name": "Zoë",
        "last_name": "Typed-Again",
        "primary_email": "zoe@",
        "other_emails": "zoe.home@example.com\nzoe.work@example.com",
        "phone": "+39 555 0101",
        "job_title": "Head of Buying",
        "lifecycle_stage": "customer",
        "owner": owner.pk,
    }
    assert_kept(client.post("/records/contacts/new/", typed), typed)


@pytest.mark.parametrize("headers", [{}, HTMX], ids=["page", "htmx"])
def test_a_refused_company_edit_keeps_every_field(client, owner, headers):
    company = CompanyFactory(name="Acme", owner=owner)
    client.force_login(owner)
    typed = {
        "name": "Acme Renamed",
        "domain": "not a domain",
        "industry": "Logistics",
        "city": "Milano",
        "phone": "+39 02 555",
    }
    response = client.post(f"/records/companies/{company.pk}/edit/", typed, **headers)
    assert_kept(response, typed)


def test_a_refused_deal_keeps_every_field(client, owner):
    client.force_login(owner)
    typed = {
        "name": "Typed deal",
        "stage": "qualifiedtobuy",
        "amount": "-12",
        "close_date": "2031-02-03",
    }
    assert_kept(client.post("/records/deals/new/", typed), typed)


def test_a_refused_ticket_keeps_every_field(client, owner):
    client.force_login(owner)
    typed = {
        "name": "",
        "status": "waiting_on_us",
        "priority": "high",
        "description": "Printer on fire",
    }
    assert_kept(client.post("/records/tickets/new/", typed), typed)


def test_a_refused_custom_record_keeps_every_field(client, owner):
    projects = CustomObjectType.objects.create(name="Project", plural="Projects", slug="projects")
    for n, (label, kind, required) in enumerate(
        [("Budget", "number", False), ("Code", "text", True), ("Start", "date", False)]
    ):
        PropertyDefinition.objects.create(
            object_type=projects, label=label, key=label.lower(), type=kind,
            required=required, position=n,
        )  # fmt: skip
    client.force_login(owner)
    typed = {"name": "Warehouse move", "prop_budget": "1200.50", "prop_code": "", "prop_start": ""}
    typed["prop_start"] = "2031-05-06"
    assert_kept(client.post("/records/projects/new/", typed), typed)


@pytest.mark.parametrize("headers", [{}, HTMX], ids=["page", "htmx"])
def test_a_refused_task_keeps_every_field(client, owner, contact, headers):
    client.force_login(owner)
    typed = {
        "title": "",
        "task_type": "call",
        "due_at": "2031-01-02T09:30",
        "body": "Ask about the renewal",
    }
    response = client.post(f"/records/contacts/{contact.pk}/tasks/", typed, **headers)
    assert_kept(response, typed, form_id="task-form")


@pytest.mark.parametrize("headers", [{}, HTMX], ids=["page", "htmx"])
def test_a_refused_meeting_keeps_every_field(client, owner, headers):
    company = CompanyFactory(owner=owner)
    contact = ContactFactory(owner=owner)
    association_create(company, contact)
    client.force_login(owner)
    typed = {
        "title": " ",
        "starts_at": "2031-01-02T09:30",
        "duration_minutes": "90",
        "outcome": "completed",
        "body": "Went through the renewal",
    }
    response = client.post(f"/records/companies/{company.pk}/meetings/", typed, **headers)
    assert_kept(response, typed, form_id="meeting-form")


# Settings > General


def test_refused_email_preferences_keep_every_field_of_the_page(client, owner, teammate):
    offline_mailbox(owner)  # the rep's own: the page offers a From menu
    theirs = offline_mailbox(teammate, email="teammate@crm.example")
    client.force_login(owner)
    typed = {
        "profile-profile_name": "Owen at Acme",
        "profile-time_zone": "Europe/Rome",
        "email-font_family": "georgia",
        "email-font_size": "16",
        "email-track_by_default": "on",  # and "log" left unticked
    }
    response = client.post(
        "/settings/general/", {**typed, "email-default_from": f"{theirs.pk}:{theirs.email}"}
    )
    assert_kept(response, typed)
    assert "Choose one of your own addresses." in response.content.decode()


# The admin area


def test_a_refused_new_user_keeps_every_field_and_the_password(client, admin_user):
    client.force_login(admin_user)
    typed = {
        "username": "new-rep",
        "first_name": "Nora",
        "last_name": "Typed",
        "email": "nora@example.com",
        "profile_name": "Nora (Sales)",
        "seat": "core",
        "record_access": "team",
        "time_zone": "Europe/Rome",
        "password": "12345678",  # refused: entirely numeric, too common
    }
    assert_kept(client.post("/settings/users/new/", typed), typed)


def test_a_refused_team_keeps_its_name(client, admin_user):
    TeamFactory(name="Blue Whales")
    client.force_login(admin_user)
    typed = {"name": "Blue Whales"}
    assert_kept(client.post("/settings/teams/", typed), typed)


def test_a_refused_object_type_keeps_its_names(client, admin_user):
    client.force_login(admin_user)
    typed = {"name": "Person", "plural": "Contacts"}  # a built-in type's name
    assert_kept(client.post("/settings/objects/", typed), typed)


def test_a_refused_property_keeps_every_field(client, admin_user):
    CustomObjectType.objects.create(name="Project", plural="Projects", slug="projects")
    client.force_login(admin_user)
    typed = {"label": "Phase", "type": "choice", "required": "on", "options_text": ""}
    assert_kept(client.post("/settings/objects/projects/", typed), typed)


def test_a_refused_subscription_type_keeps_every_field(client, admin_user):
    client.force_login(admin_user)
    typed = {"new-name": "", "new-description": "News of the month, in brief"}
    response = client.post("/settings/privacy/", {"action": "create-type", **typed})
    assert_kept(response, typed)


def test_a_refused_subscription_type_edit_keeps_every_field(client, admin_user):
    kind = SubscriptionType.objects.create(name="Newsletter", description="Monthly")
    client.force_login(admin_user)
    typed = {"name": "", "description": "Quarterly, from now on"}
    assert_kept(client.post(f"/settings/privacy/types/{kind.pk}/", typed), typed)


def test_a_refused_team_inbox_keeps_every_field(client, admin_user):
    client.force_login(admin_user)
    typed = {"name": "", "kind": "help_desk", "display_name": "Acme Support"}
    assert_kept(client.post("/settings/inboxes/", typed), typed)


def test_a_refused_team_address_keeps_every_field(client, admin_user):
    inbox = TeamInbox.objects.create(name="Support", kind="help_desk")
    client.force_login(admin_user)
    typed = {"email": "support@", "provider": "office365"}
    response = client.post(f"/settings/inboxes/{inbox.pk}/", {"action": "connect", **typed})
    assert_kept(response, typed)


def test_refused_logging_rules_keep_every_field(client, admin_user):
    client.force_login(admin_user)
    typed = {
        "never_log": "partner.example\nnot a domain\nkim@home.example",
        "create_contacts": "on",
        "log_mode": "replies",
        "on_companies": "on",
        "on_open_tickets": "on",
    }
    assert_kept(client.post("/settings/email/logging/", typed), typed)


# Connecting an inbox


def test_a_refused_address_keeps_what_was_typed(client, owner):
    client.force_login(owner)
    typed = {"email": "ana@gmail"}
    assert_kept(client.post("/settings/email/connect/", typed), typed)


def test_a_refused_imap_connection_keeps_every_field_and_the_passwords(client, owner):
    client.force_login(owner)
    typed = {
        "email": "ana@example.com",
        "password": "app password 1",
        "username": "ana.login",
        "imap_host": "imap.example.com",
        "imap_port": "143",
        "imap_security": "starttls",
        "smtp_host": "",  # required
        "smtp_port": "2525",
        "smtp_security": "none",
        "separate_smtp_login": "on",
        "smtp_username": "ana.smtp",
        "smtp_password": "app password 2",
    }
    assert_kept(client.post("/settings/email/connect/imap/", typed), typed)


def test_a_refused_exchange_connection_keeps_every_field(client, owner):
    client.force_login(owner)
    typed = {
        "email": "ana@example.com",
        "password": "exchange password",
        "username": "CORP\\ana",
        "ews_url": "not an address at all",
    }
    assert_kept(client.post("/settings/email/connect/exchange/", typed), typed)


# A contact's communication preferences


def test_a_refused_subscribe_keeps_the_explanation_and_opens_the_form(client, owner, contact):
    PrivacySettings.objects.update_or_create(pk=1, defaults={"gdpr_enabled": True})
    newsletter = SubscriptionType.objects.create(name="Newsletter")
    client.force_login(owner)
    typed = {"explanation": "Signed up at the trade fair"}
    response = client.post(
        f"/records/contacts/{contact.pk}/privacy/subscriptions/",
        {"subscription_type": newsletter.pk, "status": "subscribed", "legal_basis": "", **typed},
        **HTMX,
    )
    assert "choose the legal basis" in response.content.decode()
    assert_kept(response, typed)
    assert "<details open>" in response.content.decode()


def test_a_refused_legal_basis_keeps_what_was_typed(client, owner, contact):
    client.force_login(owner)
    typed = {"basis-basis": "consent", "basis-explanation": ""}
    response = client.post(
        f"/records/contacts/{contact.pk}/privacy/bases/", typed, **HTMX
    )  # fmt: skip
    assert_kept(response, typed)


def test_a_refused_sign_in_keeps_the_username(client, owner):
    typed = {"username": "owner"}
    assert_kept(client.post("/login/", {**typed, "password": "wrong"}), typed)


def test_the_helper_reads_what_a_form_shows(client, owner):
    """The helper itself: a value the form does not show is caught."""
    contact = ContactFactory(first_name="Shown", owner=owner)
    client.force_login(owner)
    response = client.get(f"/records/contacts/{contact.pk}/edit/")
    assert_kept(response, {"first_name": "Shown"})
    with pytest.raises(AssertionError):
        assert_kept(response, {"first_name": "Not shown"})


# Sequences


def test_a_refused_sequence_keeps_every_field_of_every_step(client, owner):
    client.force_login(owner)
    data = posted(
        email(subject="Hi {{ contact.first_name }}", body="<p>Typed body</p>", new_thread="on"),
        task("call", "Call them", task_notes="Ask about the fair", delay_days="1000",
             continue_without_completing="on"),
        name="Typed sequence", window_start="08:30", window_end="12:15",
    )  # fmt: skip
    typed = {k: v for k, v in data.items() if not k.endswith(("FORMS", "kind", "-0-delay_days"))}
    assert_kept(client.post("/sequences/new/", data), typed, "sequence-form")


def test_a_refused_enrollment_keeps_every_field(client, owner, contact):
    from tests.sequences.enrollment_support import inbox_of, three_steps

    sequence = three_steps(owner)
    inbox_of(owner)
    second = inbox_of(owner, address="second@sales.example")
    client.force_login(owner)
    c = f"c{contact.pk}"
    typed = {
        "start": "0",
        "time_zone": "Asia/Tokyo",
        "send": "later",
        "send_date": "2020-01-02",  # in the past: refused
        "send_time": "09:30",
        "sender": f"{second.pk}:{second.email}",
        "delay_1": "4",
        "delay_2": "6",
        f"{c}-subject_0": "Typed subject",
        f"{c}-body_0": "<p>Typed body</p>",
        f"{c}-task_title_1": "Typed task title",
        f"{c}-subject_2": "Typed later subject",
        f"{c}-body_2": "<p>Typed later body</p>",
    }
    url = f"/sequences/{sequence.pk}/enroll/?contact={contact.pk}"
    answer = client.post(url, {**typed, "contact": contact.pk, "action": "start"})
    assert "in the past" in answer.content.decode()
    assert_kept(answer, typed, "enroll-form")


# Transactional


def test_a_refused_smtp_token_keeps_every_field(client, admin_user):
    client.force_login(admin_user)
    typed = {"name": "Shop " * 25, "create_contacts": "on", "campaign_name": "Receipts"}
    assert_kept(client.post("/settings/email/smtp-api/", typed), typed)


def test_a_refused_api_key_keeps_its_name(client, admin_user):
    client.force_login(admin_user)
    typed = {"name": "ERP integration"}
    assert_kept(client.post("/settings/integrations/api-keys/", typed), typed)
