"""Incremental sync of one inbox: decide from headers, fetch only what is kept, write in batches.

Per folder, the adapter's change feed gives headers since the stored cursor. One query finds
which participants are CRM contacts, one which referenced messages the CRM already knows
(threads) and which of the page's it already stored, one which a user deleted (tombstones). Only
messages that concern a contact or a known thread are fetched whole; their timeline rows, the
message rows and the new cursor are committed in one transaction, so a connection dropped
mid-fetch or a worker killed mid-batch re-reads the page and the Message-ID uniqueness keeps
it from logging anything twice. A message without a Message-ID is known by a digest of its
header block and size (`identity.stable_message_id`), never by its UID, so a folder the server
renumbered (new UIDVALIDITY) is read again without logging anything twice either. Bodies
are parsed and sanitized afterwards (`bodies.py`).

One worker syncs an inbox at a time: it holds the inbox's lease (`lease.py`), renewed while
it lives and checked in the transaction of every page, so a killed worker's inbox syncs again
within a minute and a worker that lost its lease writes nothing more.

Pages are written with COPY (a few statements per page) and, for adapters that allow it,
the next page is read from the server on a helper thread while this one is written
(`sync_folder`): an initial IMAP sync runs at 0.41-0.47 of the raw FETCH rate
(`make bench ONLY=imap_sync`, a quiet 2-core machine).
"""

import functools
import logging
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import date

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from mailboxes import signals
from mailboxes.bounces import processing as bounce_processing
from mailboxes.connecting.connections import provider_for
from mailboxes.constants import EMAIL_ACTIVITY, Direction, MailboxStatus
from mailboxes.mime import autoreply, parsing
from mailboxes.models import EmailMessage, EmailThread, FolderSync, Mailbox
from mailboxes.providers import oauth
from mailboxes.providers.base import ProviderError
from mailboxes.sentences import translated
from mailboxes.sync import lease, replies, senders, threads
from mailboxes.sync.auto_replies import auto_reply_reason
from mailboxes.sync.decide import Kept, decide
from mailboxes.sync.identity import rename_stand_ins
from mailboxes.sync.raws import RawStream
from records import timeline
from records.bulk import insert_rows

log = logging.getLogger(__name__)

# Messages a page: larger pages spread a page's fixed cost (about thirty statements, its
# commit and the receivers of its signals) over more mail; 2,500 took a tenth less Python and
# a fifth less database CPU than 1,000 in an initial sync (`make bench ONLY=imap_sync`). The
# raw bytes of a page's kept messages are held until it is written.
PAGE_SIZE = 2500
# With reading ahead (`sync_folder`), the first page is read before anything overlaps it: a
# small one sets the pipeline going sooner.
FIRST_PAGE_SIZE = 500
SYNCED_ROLES = ("inbox", "sent")


def apply_reports(mailbox: Mailbox, raws: dict[str, bytes]) -> None:
    """Mark the emails the page's bounce reports are about; applying one twice is harmless."""
    for ref, raw in raws.items():
        outcome = bounce_processing.process_report(mailbox, raw)
        if outcome:
            log.info("mailbox %s, report %s: %s", mailbox.pk, ref, outcome)


def create_new_senders(mailbox: Mailbox, kept: list[Kept]) -> None:
    """Make a contact of each new sender of the page (in bulk, owned by the inbox's owner)
    and put the messages on it."""
    contact_of = senders.contacts_for_senders(
        [k.new_sender for k in kept if k.new_sender], mailbox.owner_id
    )
    for k in kept:
        if k.new_sender:
            contact_id = contact_of[k.new_sender[0]]
            k.contact_ids = sorted({*k.contact_ids, contact_id})
            k.record_ids.add(contact_id)


# Settings of a page's transaction on PostgreSQL, until it ends.
# - lz4 for large values: PostgreSQL compresses them with pglz by default, ~2 s for the 80 MB
#   of raw bytes of 3,000 typical messages here, most of a page's write; lz4 (PostgreSQL 14+,
#   when built with it) does the same in ~0.3 s. Rows compressed either way read back the
#   same; no-op where lz4 is unavailable.
# - no JIT: a page's statements are short lookups over indexes, but planned without
#   statistics (a table that has just grown, in an initial sync) their estimates pass
#   jit_above_cost and compiling them took 140 ms a statement, for a query that runs in 2.
# - no sequential scans, and plans made before dropped (DISCARD PLANS): the foreign-key checks
#   of a page's rows run at its commit, one lookup a row, with plans PostgreSQL keeps for the
#   connection. Made while the tables were small or measured empty (a fresh install's first
#   sync), each read the whole table: 8,000 reads of a growing table a 10,000-message sync,
#   a second of its 2.3 s (tests/integration/test_sync_key_checks.py).
PAGE_SETTINGS = (
    "DISCARD PLANS; SELECT set_config('jit', 'off', true), "
    "set_config('enable_seqscan', 'off', true), (SELECT set_config("
    "'default_toast_compression', 'lz4', true) FROM pg_settings "
    "WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals))"
)


@transaction.atomic
def write_page(
    mailbox: Mailbox,
    folder: FolderSync,
    kept: list[Kept],
    raws: dict[str, bytes] | RawStream,
) -> list[int]:
    """Create threads, activities, message rows and timeline links for a page, in bulk.

    `raws` maps refs to raw messages, or is a `RawStream` that the helper thread fills
    meanwhile (sync_folder): the rows that need no raw bytes are written first, and the
    message rows' COPY reads each raw message as it arrives. Returns the new messages' ids.
    A few statements per page whatever its size.
    """
    if not kept:
        return []
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(PAGE_SETTINGS)
    create_new_senders(mailbox, kept)
    now = timezone.now()
    thread_of: dict[str, int] = {}
    new_subjects: list[str] = []
    for k in kept:
        if k.thread_id is None:
            # A message replying to another in this same page joins that one's thread.
            k.thread_id = next(
                (thread_of[r] for r in threads.thread_keys(k.header) if r in thread_of), None
            )
        if k.thread_id is None:
            k.new_thread = True
            new_subjects.append(threads.normalize_subject(k.header.subject)[:500])
            k.thread_id = -len(new_subjects)  # the new thread's place, negative until saved
        thread_of[k.message_id] = k.thread_id
    if new_subjects:
        created = insert_rows(EmailThread, {"subject": new_subjects}, now)
        for k in kept:
            if k.thread_id < 0:
                k.thread_id = created[-k.thread_id - 1]
    owner_id = mailbox.owner_id
    activity_ids = timeline.log_many(
        EMAIL_ACTIVITY,
        [
            timeline.Entry(
                record_ids=k.record_ids,
                occurred_at=k.header.date or now,
                created_by_id=owner_id if k.direction == Direction.OUTGOING else None,
            )
            for k in kept
        ],
        now=now,
    )
    reasons = [auto_reply_reason(k.header) for k in kept]
    refs = [k.header.ref for k in kept]
    if isinstance(raws, RawStream):
        raw_column = raws.column(refs)
    else:
        raw_column = [raws.get(ref) for ref in refs]
    message_ids = insert_rows(
        EmailMessage,
        {
            "mailbox_id": [mailbox.pk] * len(kept),
            "folder": [folder.folder] * len(kept),
            "provider_ref": [k.header.ref for k in kept],
            "message_id": [k.message_id for k in kept],
            "in_reply_to": [k.header.in_reply_to or "" for k in kept],
            "references": [" ".join(k.header.references) for k in kept],
            "thread_id": [k.thread_id for k in kept],
            "direction": [k.direction for k in kept],
            "from_addr": [k.header.from_addr.lower() for k in kept],
            "from_name": [k.header.from_name for k in kept],
            "to_addrs": [[a.lower() for a in k.header.to_addrs] for k in kept],
            "cc_addrs": [[a.lower() for a in k.header.cc_addrs] for k in kept],
            "subject": [k.header.subject[:998] for k in kept],
            "sent_at": [k.header.date for k in kept],
            "size": [k.header.size for k in kept],
            "raw": raw_column,
            "is_auto_reply": [bool(reason) for reason in reasons],
            "auto_reply_reason": reasons,
            "match_reason": [k.reason for k in kept],
            "match_detail": [k.detail[:500] for k in kept],
            "activity_id": activity_ids,
        },
        now,
    )
    pairs = [
        (message_id, contact_id)
        for k, message_id in zip(kept, message_ids, strict=True)
        for contact_id in k.contact_ids
    ]
    if pairs:
        message_column, contact_column = zip(*pairs, strict=True)
        insert_rows(
            EmailMessage.contacts.through,
            {"emailmessage_id": list(message_column), "contact_id": list(contact_column)},
            now,
            keys=False,
        )
    # Threads whose counts may change: those a person replied in, and older threads the rep's
    # own email joined (synced from Sent, perhaps after replies already logged).
    replied = {
        k.thread_id
        for k, reason in zip(kept, reasons, strict=True)
        if k.direction == Direction.INCOMING and not reason
    }
    joined = {k.thread_id for k in kept if k.direction == Direction.OUTGOING and not k.new_thread}
    replies.refresh_reply_counts(replied | joined)
    if isinstance(raws, RawStream):
        raws = raws.fetched()
    _announce_replies(mailbox, kept, message_ids, reasons, raws)
    if signals.messages_synced.has_listeners():
        event = signals.MessagesSynced(mailbox_id=mailbox.pk, message_ids=tuple(message_ids))
        signals.send_on_commit(signals.messages_synced, __name__, [event])
    return message_ids


def _announce_replies(mailbox, kept, message_ids, reasons, raws) -> None:
    """Queue `reply_received` for each incoming email of the page and `replies_received`
    for the page (sent on commit)."""
    if not (signals.reply_received.has_listeners() or signals.replies_received.has_listeners()):
        return
    incoming = [
        (k, pk, reason)
        for k, pk, reason in zip(kept, message_ids, reasons, strict=True)
        if k.direction == Direction.INCOMING and k.contact_ids
    ]
    ours: dict[int, list[int]] = {}
    for pk, thread_id in replies.outgoing_in_threads({k.thread_id for k, *_rest in incoming}):
        ours.setdefault(thread_id, []).append(pk)
    events = []
    for k, pk, reason in incoming:
        received = k.header.date
        back = None
        if reason == autoreply.AUTO_REPLY and raws.get(k.header.ref):
            # Read when a receiver asks (a full parse, 1-2 ms): most replies match nothing.
            back = functools.partial(_return_date, raws[k.header.ref], received)
        events.append(
            signals.ReplyReceived(
                message_id=pk,
                thread_id=k.thread_id,
                mailbox_id=mailbox.pk,
                contact_ids=tuple(k.contact_ids),
                replied_to=tuple(ours.get(k.thread_id, ())),
                received_at=received,
                is_auto_reply=bool(reason),
                auto_reply_reason=reason,
                return_date=back,
            )
        )
    signals.send_on_commit(signals.reply_received, __name__, events)
    if events:
        batch = signals.RepliesReceived(tuple(events))
        signals.send_on_commit(signals.replies_received, __name__, [batch])


def _return_date(raw: bytes, received) -> date | None:
    """The day an out-of-office message says its writer is back (autoreply.return_date)."""
    text = parsing.parse_message(raw).text
    return autoreply.return_date(text, received.date() if received else None)


def fetch_raws(provider, folder: str, refs: list[str]) -> dict[str, bytes]:
    """The raw bytes of the given messages by ref (missing ones left out)."""
    return {m.ref: m.raw for m in provider.fetch_raw(folder, refs)} if refs else {}


def sync_folder(
    mailbox: Mailbox, provider, folder: FolderSync, held: lease.Lease, *, page_size=PAGE_SIZE
) -> int:
    """Bring one folder up to date; return how many messages were logged.

    Each page is written only if the folder's cursor is still where this sync read it from
    and this sync still holds the inbox's lease (`held`); a sync that lost it raises
    LeaseLost, its page rolled back.

    With an adapter that allows it (`reads_off_thread`: it keeps no state in the database,
    like IMAP's), reading runs ahead on one helper thread: while this thread writes a page,
    the helper fetches that page's raw messages and then the next page's headers, so the
    mail server's and the database's work overlap instead of taking turns (a third of an
    initial IMAP sync's time, `make bench`). The helper makes one call at a time, in the
    order they are asked for; the next page is only read ahead, never decided or written
    before this one is committed. Other adapters are called in turn from this thread.
    """
    logged = 0
    helper = None
    if getattr(provider, "reads_off_thread", False):
        helper = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"sync-{mailbox.pk}")
    upcoming: Future | None = None
    first_size = page_size if helper is None else min(page_size, FIRST_PAGE_SIZE)
    try:
        while True:
            if upcoming is None:
                FolderSync.objects.filter(pk=folder.pk).update(last_attempt_at=timezone.now())
                page = provider.changes(folder.folder, folder.cursor, first_size)
            else:
                page = upcoming.result()
            decision = decide(mailbox, page.headers)
            refs = [k.header.ref for k in decision.kept]
            if helper is None:
                raws = fetch_raws(provider, folder.folder, refs)
            else:
                # write_page reads the raw bytes as they come, once it has written what
                # needs none.
                raws = RawStream(refs)
                helper.submit(raws.fetch, provider, folder.folder)
                if page.more:
                    FolderSync.objects.filter(pk=folder.pk).update(last_attempt_at=timezone.now())
                    upcoming = helper.submit(
                        provider.changes, folder.folder, page.cursor, page_size
                    )
            with transaction.atomic():
                locked = FolderSync.objects.select_for_update().get(pk=folder.pk)
                if locked.cursor != folder.cursor:
                    # Another worker moved this folder on meanwhile; its pages win.
                    return logged
                rename_stand_ins(mailbox, decision.renamed)
                write_page(mailbox, locked, decision.kept, raws)
                locked.cursor = page.cursor
                locked.seen += decision.seen
                locked.logged += len(decision.kept)
                locked.skipped += sum(decision.skipped.values())
                reasons = Counter(locked.skip_reasons)
                reasons.update(decision.skipped)
                locked.skip_reasons = dict(reasons)
                locked.progress_done = (0 if page.reset else locked.progress_done) + decision.seen
                locked.progress_total = page.total
                locked.last_success_at = timezone.now()
                locked.last_error = ""
                locked.save()
                held.confirm()
                folder = locked
            logged += len(decision.kept)
            if decision.reports:
                # Through the helper when there is one: the adapter serves one call at a time.
                args = (provider, folder.folder, decision.reports)
                if helper is not None:
                    report_raws = helper.submit(fetch_raws, *args).result()
                else:
                    report_raws = fetch_raws(*args)
                apply_reports(mailbox, report_raws)
            if not page.more:
                return logged
    finally:
        if helper is not None:
            # Nothing may still be talking to the server when the next folder starts.
            helper.shutdown(wait=True, cancel_futures=True)


def ensure_folders(mailbox: Mailbox, provider) -> list[FolderSync]:
    """The folders sync reads (inbox and sent, found by role), created on first sight."""
    wanted = [f for f in provider.list_folders() if f.role in SYNCED_ROLES]
    rows = []
    for f in wanted:
        row, _created = FolderSync.objects.get_or_create(
            mailbox=mailbox, folder=f.name, defaults={"role": f.role or ""}
        )
        rows.append(row)
    return rows


def sync_mailbox(mailbox_id: int) -> int:
    """Sync every folder of an inbox; record failures on the inbox in words its owner reads.

    One sync of an inbox at a time: while another worker holds the inbox's lease, this
    returns 0 at once and the Email page says who holds it (`lease.py`).
    A refused sign-in or revoked grant marks the inbox "needs reconnect"; other permanent
    failures mark it "error"; temporary ones are noted on the folder and retried next run.
    """
    mailbox = Mailbox.objects.select_related("team_inbox").get(pk=mailbox_id)
    if mailbox.status == MailboxStatus.NEEDS_RECONNECT:
        return 0
    held = lease.acquire(mailbox.pk)
    if held is None:
        return 0
    with held:
        return _sync_held(mailbox, held)


def _sync_held(mailbox: Mailbox, held: lease.Lease) -> int:
    logged = 0
    try:
        with provider_for(mailbox) as provider:
            for folder in ensure_folders(mailbox, provider):
                try:
                    logged += sync_folder(mailbox, provider, folder, held)
                except ProviderError as exc:
                    FolderSync.objects.filter(pk=folder.pk).update(
                        last_error=translated(exc.message)
                    )
                    if exc.permanent:
                        raise
    except lease.LeaseLost:
        log.warning("sync of mailbox %s stopped: another worker took it over", mailbox.pk)
        return logged
    except ProviderError as exc:
        message = translated(exc.message)  # the provider's words, in the account's language
        if exc.stage == "auth":
            hint = testing_mode_hint(mailbox)
            mailbox.mark_needs_reconnect(f"{message} {hint}" if hint else message)
        elif exc.permanent:
            mailbox.mark_error(message)
        log.warning("sync of mailbox %s failed: %r", mailbox.pk, exc)
        return logged
    Mailbox.objects.filter(pk=mailbox.pk).update(last_sync_at=timezone.now())
    if mailbox.status == MailboxStatus.ERROR:
        mailbox.mark_connected()
    return logged


def testing_mode_hint(mailbox: Mailbox) -> str:
    """A Google grant that dies about a week after it was made points at the app's Testing
    status; say so, so the admin publishes the app instead of reconnecting every week."""
    if mailbox.provider != "gmail" or not mailbox.config.get("granted_at"):
        return ""
    from datetime import datetime

    granted_at = datetime.fromisoformat(mailbox.config["granted_at"])
    scopes = mailbox.secret.get("scope", "").split()
    if oauth("gmail").looks_like_testing_mode(granted_at, timezone.now(), scopes):
        return _(
            "The Google Cloud app this server uses seems to be in Testing mode, where Google "
            "expires access after 7 days: an admin should publish it (OAuth consent screen > "
            "Publish app)."
        )
    return ""


def mailboxes_to_sync():
    return Mailbox.objects.exclude(status=MailboxStatus.NEEDS_RECONNECT)


def reconcile_folder(mailbox: Mailbox, provider, folder: FolderSync, held: lease.Lease) -> int:
    """Re-read the whole folder's headers and log what should be logged but is missing.

    This is what keeps "connected" honest: a cursor bug, a server that reordered UIDs or a
    skipped page shows up here as a gap, is reported on the folder and repaired. Rows stored
    under an old UID stand-in get their stable id here (`uid_stand_in_id`).
    """
    missing = 0
    cursor = ""
    while True:
        page = provider.changes(folder.folder, cursor, PAGE_SIZE)
        decision = decide(mailbox, page.headers)
        refs = [k.header.ref for k in decision.kept]
        raws = fetch_raws(provider, folder.folder, refs)
        with transaction.atomic():
            rename_stand_ins(mailbox, decision.renamed)
            write_page(mailbox, folder, decision.kept, raws)
            held.confirm()
        missing += len(decision.kept)
        cursor = page.cursor
        if not page.more:
            break
    now = timezone.now()
    gap = (
        _("%(n)s messages were missing and have been logged (%(time)s UTC).")
        % {"n": missing, "time": now.strftime("%Y-%m-%d %H:%M")}
        if missing
        else ""
    )
    FolderSync.objects.filter(pk=folder.pk).update(
        reconciled_at=now, gap=gap, logged=F("logged") + missing
    )
    return missing


def reconcile_mailbox(mailbox_id: int) -> int:
    """Reconcile every synced folder of an inbox, holding its lease as a sync does."""
    mailbox = Mailbox.objects.select_related("team_inbox").get(pk=mailbox_id)
    if mailbox.status == MailboxStatus.NEEDS_RECONNECT:
        return 0
    held = lease.acquire(mailbox.pk)
    if held is None:
        return 0
    try:
        with held, provider_for(mailbox) as provider:
            folders = ensure_folders(mailbox, provider)
            return sum(reconcile_folder(mailbox, provider, f, held) for f in folders)
    except lease.LeaseLost:
        log.warning("reconciliation of mailbox %s stopped: another worker took over", mailbox.pk)
        return 0
