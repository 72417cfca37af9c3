"""A translation catalogue translates the UI with no edit of a template or a module
(docs/architecture.md, "User-facing text"): a small Italian catalogue, written here as
`manage.py compilemessages` would write it, turns pages, choice labels, form errors and the
connect flow's sentences (mailboxes/connecting/autodetect.py, which imports nothing of
Django) into Italian."""

from django.urls import reverse

from records.constants import LifecycleStage
from tests.catalogue import write_catalogue
from tests.factories import UserFactory

ITALIAN = {
    "Log out": "Esci",
    "Create %(label)s": "Crea %(label)s",
    "Contact": "Contatto",
    "Lead": "Potenziale cliente",
    "%(domain)s addresses are %(name)s accounts, which connect over IMAP/SMTP.": (
        "Gli indirizzi %(domain)s sono account %(name)s, che si collegano via IMAP/SMTP."
    ),
    "If your account uses two-step verification, sign in with an app password from "
    "%(name)s's security settings, not your usual password.": (
        "Se il tuo account usa la verifica in due passaggi, accedi con una password per le app "
        "dalle impostazioni di sicurezza di %(name)s, non con la tua solita password."
    ),
}


def test_an_italian_catalogue_translates_pages_labels_and_the_connect_flow(
    client, db, settings, tmp_path
):
    write_catalogue(tmp_path, "it", ITALIAN)
    settings.LOCALE_PATHS = [tmp_path]
    settings.LANGUAGE_CODE = "it"
    client.force_login(UserFactory())

    page = client.get(reverse("records:list", args=["contacts"])).content.decode()
    assert '<html lang="it">' in page
    assert "Esci" in page and "Log out" not in page
    assert "Crea contatto" in page  # a sentence and the record type's label in it
    assert str(LifecycleStage.LEAD.label) == "Potenziale cliente"

    # The connect flow's recommendation: two sentences of autodetect's, each translated.
    answer = client.post(reverse("mailboxes:connect"), {"email": "ada@ymail.com"})
    text = answer.content.decode()
    assert "Gli indirizzi ymail.com sono account Yahoo Mail, che si collegano via IMAP/SMTP." in (
        text
    )
    assert "dalle impostazioni di sicurezza di Yahoo, non con la tua solita password." in text


def test_without_a_catalogue_the_connect_flow_reads_in_english(client, db):
    client.force_login(UserFactory())
    text = client.post(reverse("mailboxes:connect"), {"email": "ada@ymail.com"}).content
    assert (
        b"ymail.com addresses are Yahoo Mail accounts, which connect over IMAP/SMTP. If your "
        b"account uses two-step verification, sign in with an app password from Yahoo&#x27;s "
        b"security settings" in text
    )
