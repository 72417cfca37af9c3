"""A translation catalogue translates the UI with no edit of a template or a module
(docs/architecture.md, "User-facing text"): a small Italian catalogue, written here as
`manage.py compilemessages` would write it, turns pages, choice labels, form errors and the
connect flow's sentences (mailboxes/connecting/autodetect.py, which imports nothing of
Django) into Italian."""

import struct
from pathlib import Path

from django.urls import reverse

from records.constants import LifecycleStage
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


def write_catalogue(locale_dir: Path, language: str, messages: dict[str, str]) -> None:
    """A GNU .mo file of `messages` (the format compilemessages writes), UTF-8."""
    entries = {"": "Content-Type: text/plain; charset=UTF-8\n", **messages}
    keys = sorted(entries)
    ids = strs = b""
    spans = []
    for key in keys:
        key_bytes, value_bytes = key.encode(), entries[key].encode()
        spans.append((len(ids), len(key_bytes), len(strs), len(value_bytes)))
        ids += key_bytes + b"\0"
        strs += value_bytes + b"\0"
    count = len(keys)
    ids_start = 7 * 4 + 16 * count
    strs_start = ids_start + len(ids)
    key_table = b"".join(struct.pack("<II", size, at + ids_start) for at, size, _, _ in spans)
    value_table = b"".join(struct.pack("<II", size, at + strs_start) for _, _, at, size in spans)
    header = struct.pack("<Iiiiiii", 0x950412DE, 0, count, 28, 28 + 8 * count, 0, 0)
    target = locale_dir / language / "LC_MESSAGES"
    target.mkdir(parents=True)
    (target / "django.mo").write_bytes(header + key_table + value_table + ids + strs)


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
