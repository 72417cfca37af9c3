"""A translation catalogue translates the UI with no edit of a template or a module
(docs/architecture.md, "User-facing text"): a small Italian catalogue, written here as
`manage.py compilemessages` would write it, turns pages, choice labels, form errors and the
connect flow's sentences (mailboxes/connecting/autodetect.py, which imports nothing of
Django) into Italian."""

from django.urls import reverse

from mailboxes.providers.base import Sentence
from mailboxes.sentences import translated
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


PRIVATE = (
    "%(host)s is on a private or local network, which this CRM connects to only when an admin "
    "has allowed it. Use the server's public name, or ask an admin to allow it."
)


def test_a_providers_error_reaches_the_connect_page_in_italian(client, db, settings, tmp_path):
    """mailboxes/providers/ imports nothing of Django: its error is a Sentence, translated by
    the page that shows it."""
    write_catalogue(
        tmp_path,
        "it",
        {
            "This server is not allowed": "Questo server non è consentito",
            PRIVATE: "%(host)s è in una rete privata o locale: usa il nome pubblico del server.",
        },
    )
    settings.LOCALE_PATHS = [tmp_path]
    settings.LANGUAGE_CODE = "it"
    settings.CRM_MAIL_SERVER_ALLOWLIST = []
    client.force_login(UserFactory())
    form = {
        "email": "ana@example.test",
        "password": "secret",
        **{f"{kind}_host": "10.0.0.5" for kind in ("imap", "smtp")},
        **{f"{kind}_port": 993 for kind in ("imap", "smtp")},
        **{f"{kind}_security": "none" for kind in ("imap", "smtp")},
    }
    answer = client.post(reverse("mailboxes:connect-imap"), form)
    (error,) = answer.context["form"].non_field_errors()
    assert error == (
        "Questo server non è consentito: 10.0.0.5 è in una rete privata o locale: usa il nome "
        "pubblico del server."
    )


def test_a_sentence_is_translated_whole_with_the_sentences_inside_it(settings, tmp_path):
    outer = "Could not finish %(step)s: %(reply)s"
    inner = "reading messages in %(folder)s"
    write_catalogue(
        tmp_path,
        "it",
        {outer: "Impossibile completare %(step)s: %(reply)s", inner: "lettura di %(folder)s"},
    )
    settings.LOCALE_PATHS = [tmp_path]
    settings.LANGUAGE_CODE = "it"
    text = Sentence(outer, step=Sentence(inner, folder="INBOX"), reply="NO [LIMIT] too many")
    assert text == "Could not finish reading messages in INBOX: NO [LIMIT] too many"  # English
    # The server's own words stay as they came.
    assert translated(text) == "Impossibile completare lettura di INBOX: NO [LIMIT] too many"
    assert translated("plain words") == "plain words"
