"""Deal amounts in the account's currency and number format: lists, record pages, CSV, and
the admin setting that chooses them."""

import csv
import io
from decimal import Decimal

from django.db import connection
from django.test.utils import CaptureQueriesContext

from records.models import AccountSettings
from records.money import Money
from tests.factories import ContactFactory, DealFactory

NBSP = "\xa0"


def choose(currency: str, number_locale: str) -> None:
    AccountSettings(pk=1, currency=currency, number_locale=number_locale).save()


def test_an_amount_is_written_as_the_locale_writes_the_currency():
    assert Money("EUR", "en_US").format(Decimal("12500")) == "€12,500.00"
    assert Money("EUR", "de_DE").format(Decimal("12500.5")) == f"12.500,50{NBSP}€"
    assert Money("USD", "en_US").format(Decimal("999.99")) == "$999.99"
    assert Money("JPY", "ja_JP").format(Decimal("12500")) == "￥12,500"  # yen have no cents
    assert Money("EUR", "en_US").format(None) == ""


def test_until_an_admin_chooses_amounts_are_euros_written_the_us_way_and_nothing_is_written(db):
    with CaptureQueriesContext(connection) as queries:
        money = Money.for_account()
    assert money == Money("EUR", "en_US")
    assert [q["sql"] for q in queries if not q["sql"].startswith("SELECT")] == []
    assert not AccountSettings.objects.exists()


def test_the_deals_list_and_the_deal_page_show_the_amount_in_the_accounts_format(
    client, admin_user
):
    deal = DealFactory(name="Lumen renewal", amount=Decimal("12500.00"), owner=admin_user)
    client.force_login(admin_user)

    assert "€12,500.00" in client.get("/records/deals/").content.decode()
    assert "€12,500.00" in client.get(f"/records/deals/{deal.pk}/").content.decode()

    choose("EUR", "de_DE")

    listing = client.get("/records/deals/").content.decode()
    assert f"12.500,00{NBSP}€" in listing and "12500.00" not in listing
    page = client.get(f"/records/deals/{deal.pk}/").content.decode()
    assert f"12.500,00{NBSP}€" in page


def test_a_csv_export_keeps_the_plain_number_and_names_the_currency_in_the_header(
    client, admin_user
):
    DealFactory(name="Lumen renewal", amount=Decimal("12500.00"), owner=admin_user)
    choose("CHF", "de_CH")
    client.force_login(admin_user)

    response = client.get("/records/deals/export.csv")

    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    header, row = rows[0], rows[1]
    assert header[3] == "Amount (CHF)"
    assert row[3] == "12500.00"


def test_the_deal_form_says_which_currency_the_amount_is_in(client, admin_user):
    choose("USD", "en_US")
    client.force_login(admin_user)

    assert "In USD." in client.get("/records/deals/new/").content.decode()


def test_a_contact_page_does_not_read_the_currency(client, admin_user):
    contact = ContactFactory(owner=admin_user)
    client.force_login(admin_user)

    with CaptureQueriesContext(connection) as queries:
        client.get(f"/records/contacts/{contact.pk}/")

    assert not any("records_accountsettings" in q["sql"] for q in queries)


def test_an_admin_chooses_the_currency_and_number_format(client, admin_user):
    client.force_login(admin_user)
    page = client.get("/settings/currency/").content.decode()
    assert '<option value="EUR" selected>EUR · Euro</option>' in page
    assert "English (United States) · €12,500.00" in page

    response = client.post(
        "/settings/currency/", {"currency": "SEK", "number_locale": "sv_SE"}, follow=True
    )

    assert (AccountSettings.load().currency, AccountSettings.load().number_locale) == (
        "SEK",
        "sv_SE",
    )
    assert f"Deal amounts now read like 12{NBSP}500,00{NBSP}kr." in response.content.decode()


def test_an_unknown_currency_is_refused_and_the_rest_of_the_form_kept(client, admin_user):
    client.force_login(admin_user)

    response = client.post("/settings/currency/", {"currency": "XYZ", "number_locale": "fr_FR"})

    body = response.content.decode()
    assert "Select a valid choice. XYZ is not one of the available choices." in body
    assert '<option value="fr_FR" selected>' in body
    assert not AccountSettings.objects.exists()


def test_only_admins_choose_the_currency(client, teammate):
    client.force_login(teammate)

    assert client.get("/settings/currency/").status_code == 403
    assert client.post("/settings/currency/", {"currency": "USD"}).status_code == 403
