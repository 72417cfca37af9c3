"""Which message a header names: its Message-ID, or a stand-in derived from the message
itself for mail without one (stable across a folder renumbered by its server)."""

import hashlib

from mailboxes.mime import parsing
from mailboxes.models import EmailMessage, Mailbox, Tombstone
from mailboxes.providers.base import FetchedHeader


def stable_message_id(header: FetchedHeader, mailbox: Mailbox) -> str:
    """The message's Message-ID, or a stand-in derived from the message itself.

    The stand-in must name a message the same way every time it is read, also after the
    server renumbered the folder (a new UIDVALIDITY: the adapter says `reset` and the whole
    folder is read again), so it is a digest of what the folder does not change: the header
    block the adapter read (IMAP reads From, To, Cc, Subject, Date, Content-Type with its
    multipart boundary, and the automatic-mail fields) and the size. Never the UID (`ref`),
    nor the arrival time, which a restore may change and which `header.date` is for a message
    without a Date field.

    The trade-off: two messages alike in all of those are one. Different bodies differ in
    size or boundary in all but rare cases (same length, single part, same second); Received
    fields are not among those IMAP sync reads (reading them would slow every header fetch),
    so two deliveries that differ only there, with equal sizes, are one. The other way, a
    server that counted a message's size differently after a migration would give it a new
    stand-in and it would be logged again, once; Dovecot reports the same size before and
    after a UIDVALIDITY change (tests/integration/test_sync_imap.py).
    """
    if header.message_id:
        return header.message_id
    digest = hashlib.sha256()
    if header.raw_headers:
        digest.update(parsing.normalize_newlines(header.raw_headers).strip())
    else:  # adapters that read no header block: the decoded fields
        fields = [header.from_addr, *header.to_addrs, "", *header.cc_addrs, "", header.subject]
        digest.update("\n".join([*fields, str(header.date)]).encode("utf-8", "replace"))
    digest.update(b"\nsize %d" % header.size)
    return f"<{digest.hexdigest()}@no-message-id.{mailbox.pk}.crm-mail>"


def uid_stand_in_id(header: FetchedHeader, mailbox: Mailbox) -> str | None:
    """The stand-in earlier versions gave a message without a Message-ID (from its UID).

    Rows stored then still carry it: sync recognizes them by it as long as the UIDs are the
    same, and renames them to `stable_message_id`'s form when it does (`rename_stand_ins`), so
    that they are recognized after a later UIDVALIDITY change too. Only a reset before any
    re-read since the upgrade (sync reads a folder again in full every six hours, in
    `reconcile_folder`) logs such a message a second time.
    """
    if header.message_id:
        return None
    digest = hashlib.sha1(
        "|".join(
            [header.from_addr, header.subject, str(header.date), str(header.size), header.ref]
        ).encode("utf-8", "replace")
    ).hexdigest()
    return f"<{digest}@no-message-id.{mailbox.pk}.crm-mail>"


def rename_stand_ins(mailbox: Mailbox, renamed: dict[str, str]) -> None:
    """Give rows stored under an old UID stand-in (and their tombstones) the stable one."""
    for old, new in renamed.items():
        EmailMessage.objects.filter(mailbox=mailbox, message_id=old).update(message_id=new)
        Tombstone.objects.filter(mailbox=mailbox, message_id=old).update(message_id=new)
