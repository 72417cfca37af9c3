"""File copies of sent email in the Sent folder, for servers that do not file what they relay.

An email sent through plain SMTP owes a copy: `sent_copy = "owed"` is written in the commit
that records the send (sending.py), so a worker killed before filing it loses nothing. A
filer takes an inbox's owed rows a chunk at a time (SKIP LOCKED, marking them "filing" with a
stamp in `claimed_at`, so two filers never take the same row), APPENDs each \\Seen and marks
it "filed". A row still "filing" after FILING_LEASE belonged to a filer that died, perhaps
after its APPEND: it is looked up by Message-ID first and appended only when missing.

One filer per inbox is queued when a sending pass ends; the periodic `file_owed_copies` queues
one for every inbox whose copies have been owed for over a minute (after a crash, or after
the server refused an APPEND for a while).

Learning the server: the first time an inbox owes a copy, its Sent folder is searched for
the message first. A server that files what it relays (Gmail's or Office 365's SMTP) already
has it; that is recorded on the inbox (`server_files_sent`), its copies stop being owed, and a
send whose answer was lost can then be settled by looking in Sent (reconcile.absence_proves).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from mailboxes import jobs
from mailboxes.connecting.connections import provider_for
from mailboxes.constants import MailboxStatus, SentCopy
from mailboxes.models import Mailbox, Outbound
from mailboxes.providers.base import MailProvider, ProviderError
from mailboxes.sentences import translated

log = logging.getLogger(__name__)

SEEN = "\\Seen"
CHUNK = 50
FILING_LEASE = timedelta(minutes=5)
# The sending pass queues its own filer; the periodic one steps in after this.
OWED_GRACE = timedelta(minutes=1)
NO_SENT_FOLDER_WORDS = gettext_lazy(
    "Sent. The inbox has no Sent folder, so no copy was saved there."
)


def with_bcc_header(raw: bytes, bcc: list[str]) -> bytes:
    """Return the Sent copy: the sent bytes plus a Bcc header, as mail clients keep it."""
    if not bcc:
        return raw
    newline = b"\r\n" if b"\r\n" in raw[:2000] else b"\n"
    return b"Bcc: " + ", ".join(bcc).encode() + newline + raw


def _owed(mailbox_id: int, now) -> Q:
    stale = now - FILING_LEASE
    return Q(mailbox_id=mailbox_id) & (
        Q(sent_copy=SentCopy.OWED) | Q(sent_copy=SentCopy.FILING, claimed_at__lt=stale)
    )


def _take(mailbox_id: int, after_pk: int) -> list[Outbound]:
    """Claim the next chunk of the inbox's owed copies; return their rows with raw MIME."""
    now = timezone.now()
    with transaction.atomic():
        taken = list(
            Outbound.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(_owed(mailbox_id, now), pk__gt=after_pk)
            .order_by("pk")
            .values_list("pk", "sent_copy")[:CHUNK]
        )
        if not taken:
            return []
        Outbound.objects.filter(pk__in=[pk for pk, _stamp in taken]).update(
            sent_copy=SentCopy.FILING, claimed_at=now
        )
    rows = list(
        Outbound.objects.filter(pk__in=[pk for pk, _stamp in taken])
        .select_related("message")
        .only("pk", "bcc_addrs", "message__raw", "message__message_id")
        .order_by("pk")
    )
    interrupted = {pk for pk, state in taken if state == SentCopy.FILING}
    for row in rows:
        row.stamp = now
        row.interrupted = row.pk in interrupted  # a dead filer may have appended it
    return rows


def _done(row: Outbound, state: str, note: str | None = None) -> None:
    changes = {"last_error": note} if note is not None else {}
    Outbound.objects.filter(pk=row.pk, sent_copy=SentCopy.FILING, claimed_at=row.stamp).update(
        sent_copy=state, claimed_at=None, **changes
    )


def _learn(mailbox: Mailbox, provider: MailProvider, folder: str, row: Outbound) -> bool:
    """Look for the inbox's first owed copy in Sent; record whether the server files sent
    mail itself. Return True when it does (nothing to append, ever)."""
    files = provider.find_by_message_id(folder, row.message.message_id) is not None
    Mailbox.objects.filter(pk=mailbox.pk).update(server_files_sent=files)
    mailbox.server_files_sent = files
    return files


def file_sent_copies(mailbox_id: int, *_old_args) -> int:
    """APPEND the copies an inbox owes to its Sent folder, \\Seen; return how many.

    (`_old_args`: tasks queued before an upgrade also carried the rows' ids.) A copy that
    cannot be saved for good is noted on its email, which stays sent; one refused for now
    stays owed for the periodic filer.
    """
    mailbox = Mailbox.objects.filter(pk=mailbox_id).first()
    if mailbox is None:
        return 0
    filed, after = 0, 0
    with provider_for(mailbox) as provider:
        try:
            folder = next((f.name for f in provider.list_folders() if f.role == "sent"), None)
            append = getattr(provider, "append", None)
            while rows := _take(mailbox_id, after):
                after = rows[-1].pk
                if folder is None or append is None:
                    for row in rows:
                        _done(row, SentCopy.NONE, str(NO_SENT_FOLDER_WORDS))
                    continue
                if mailbox.server_files_sent is None and _learn(mailbox, provider, folder, rows[0]):
                    _stop_owing(mailbox_id, rows)
                    return filed
                for row in rows:
                    filed += _file_one(provider, append, folder, row)
        except ProviderError as error:
            # The inbox is unreachable: what this filer holds is owed again, for a later run.
            log.warning("filing Sent copies for inbox %s failed: %s", mailbox_id, error.message)
            Outbound.objects.filter(mailbox_id=mailbox_id, sent_copy=SentCopy.FILING).filter(
                claimed_at__gte=timezone.now() - FILING_LEASE
            ).update(sent_copy=SentCopy.OWED, claimed_at=None)
    return filed


def _file_one(provider: MailProvider, append, folder: str, row: Outbound) -> int:
    if row.interrupted and provider.find_by_message_id(folder, row.message.message_id):
        _done(row, SentCopy.FILED)
        return 0
    raw = with_bcc_header(bytes(row.message.raw), row.bcc_addrs)
    try:
        append(folder, raw, flags=(SEEN,))
    except ProviderError as error:
        if not error.permanent:
            _done(row, SentCopy.OWED)  # the periodic filer tries again
            return 0
        _done(
            row,
            SentCopy.NONE,
            _("Sent. The copy for the Sent folder could not be saved: %(error)s")
            % {"error": translated(error.message)},
        )
        return 0
    _done(row, SentCopy.FILED)
    return 1


def _stop_owing(mailbox_id: int, taken: list[Outbound]) -> None:
    """The server files sent mail itself: nothing this inbox owes needs appending."""
    for row in taken:
        _done(row, SentCopy.NONE)
    Outbound.objects.filter(mailbox_id=mailbox_id, sent_copy=SentCopy.OWED).update(
        sent_copy=SentCopy.NONE
    )


def inboxes_owed_copies() -> list[int]:
    """Inboxes with copies owed for longer than OWED_GRACE, or left "filing" by a dead filer."""
    now = timezone.now()
    ids = (
        Outbound.objects.filter(
            Q(sent_copy=SentCopy.OWED, sent_at__lt=now - OWED_GRACE)
            | Q(sent_copy=SentCopy.FILING, claimed_at__lt=now - FILING_LEASE)
        )
        .exclude(mailbox__status=MailboxStatus.NEEDS_RECONNECT)
        .values_list("mailbox_id", flat=True)
        .distinct()
    )
    return sorted(pk for pk in ids if pk)


def file_owed_copies() -> int:
    """Queue a filer for every inbox owed copies (the periodic safety net); return how many."""
    ids = inboxes_owed_copies()
    for mailbox_id in ids:
        jobs.now(jobs.FILE_SENT_COPIES, mailbox_id)
    return len(ids)
