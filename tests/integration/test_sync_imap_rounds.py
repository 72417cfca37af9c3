"""What an incremental IMAP sync of an unchanged folder costs the server: one command per
folder (EXAMINE, a read-only SELECT, whose UIDNEXT and, with CONDSTORE enabled,
HIGHESTMODSEQ say that nothing arrived), whatever the folder holds; counted on the wire
through a proxy."""

import re

import pytest

from mailboxes.models import EmailMessage, FolderSync
from mailboxes.sync.engine import sync_mailbox
from tests.factories import ContactFactory
from tests.mailboxes.inboxes import imap_mailbox

from .flaky_proxy import CuttingProxy

pytestmark = [pytest.mark.integration, pytest.mark.django_db]
ME = "rep@example.test"
MESSAGES = 300
# What every sync of an inbox says first, whatever its folders: log in (with the
# capabilities), turn on CONDSTORE, and list the folders.
SESSION = ["CAPABILITY", "LOGIN", "ENABLE", "LIST"]


def message(n: int) -> bytes:
    return (
        f"From: Zoe <zoe@client.example>\r\nTo: {ME}\r\nSubject: Note {n}\r\n"
        f"Message-ID: <note-{n}@client.example>\r\nDate: Tue, 03 Mar 2026 10:00:00 +0100\r\n"
        f"\r\nBody {n}\r\n"
    ).encode()


def commands(sent: bytes) -> list[str]:
    """The IMAP command names a client sent ("a001 EXAMINE INBOX" gives EXAMINE)."""
    return re.findall(r"(?m)^[A-Za-z0-9]+ ([A-Z]+)", sent.decode("utf-8", "replace"))


def test_an_unchanged_folder_costs_one_round_trip(dovecot, owner):
    ContactFactory(owner=owner, emails=["zoe@client.example"])
    for n in range(MESSAGES):
        dovecot.deliver(message(n))
    proxy = CuttingProxy(dovecot.host, dovecot.port)
    try:
        inbox = imap_mailbox(owner, dovecot, email=ME, config={"imap_port": proxy.port})
        sync_mailbox(inbox.pk)
        assert EmailMessage.objects.count() == MESSAGES
        first = len(proxy.sent)
        sync_mailbox(inbox.pk)
        again = commands(bytes(proxy.sent[first:]))
    finally:
        proxy.close()

    folders = FolderSync.objects.filter(mailbox=inbox).count()
    assert folders == 2  # INBOX and Sent
    assert [c for c in again if c not in SESSION and c != "LOGOUT"] == ["EXAMINE"] * folders
    assert EmailMessage.objects.count() == MESSAGES
