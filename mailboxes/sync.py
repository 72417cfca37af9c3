"""Incremental sync of one inbox: decide from headers, fetch only what is kept, write in batches.

Per folder, the adapter's change feed gives headers since the stored cursor. One query each
finds which participants are CRM contacts, which referenced messages the CRM already knows
(threads), and which messages are already stored or were deleted by a user (tombstones). Only
messages that concern a contact or a known thread are fetched whole; their timeline rows, the
message rows and the new cursor are committed in one transaction, so a connection dropped
mid-fetch or a worker killed mid-batch re-reads the page and the Message-ID uniqueness keeps
it from logging anything twice. Bodies are parsed and sanitized afterwards (`bodies.py`).
"""

import hashlib
import logging
from collections import Counter
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from records.constants import ActivityKind
from records.models import Activity, ActivityLink, Association, ContactEmail

from . import autoreply, parsing, threads
from .connections import provider_for
from .constants import Direction, MailboxKind, MailboxStatus, MatchReason
from .models import EmailMessage, EmailThread, FolderSync, Mailbox, Tombstone
from .providers.base import FetchedHeader, ProviderError

log = logging.getLogger(__name__)

PAGE_SIZE = 1000
SYNCED_ROLES = ("inbox", "sent")

SKIP_NO_CONTACT = "no CRM contact"
SKIP_DUPLICATE = "already logged"
SKIP_TOMBSTONE = "deleted in the CRM"


@dataclass
class Kept:
    header: FetchedHeader
    message_id: str
    direction: str
    reason: str
    detail: str
    contact_ids: list[int]
    thread_id: int | None = None
    thread_activity_id: int | None = None  # the earlier email this one replies to
    record_ids: set[int] = field(default_factory=set)


@dataclass
class PageResult:
    seen: int = 0
    kept: list[Kept] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)


def stable_message_id(header: FetchedHeader, mailbox: Mailbox) -> str:
    """The message's Message-ID, or a stable stand-in so a message without one dedupes too."""
    if header.message_id:
        return header.message_id
    digest = hashlib.sha1(
        "|".join(
            [header.from_addr, header.subject, str(header.date), str(header.size), header.ref]
        ).encode("utf-8", "replace")
    ).hexdigest()
    return f"<{digest}@no-message-id.{mailbox.pk}.crm-mail>"


def own_addresses(mailbox: Mailbox) -> set[str]:
    return {mailbox.email.lower()} | {a.email.lower() for a in mailbox.aliases.all()}


def decide(mailbox: Mailbox, headers: list[FetchedHeader]) -> PageResult:
    """Choose which messages to log and on which records, from headers only."""
    result = PageResult(seen=len(headers))
    if not headers:
        return result
    mine = own_addresses(mailbox)
    ids = {h: stable_message_id(h, mailbox) for h in headers}
    participants = {
        h: {a.lower() for a in (h.from_addr, *h.to_addrs, *h.cc_addrs) if a} - mine for h in headers
    }
    all_addresses = set().union(*participants.values())
    contacts_by_address: dict[str, set[int]] = {}
    for address, contact_id in ContactEmail.objects.filter(address__in=all_addresses).values_list(
        "address", "contact_id"
    ):
        contacts_by_address.setdefault(address, set()).add(contact_id)
    referenced = {ref for h in headers for ref in threads.thread_keys(h)}
    known = {
        row["message_id"]: row
        for row in EmailMessage.objects.filter(message_id__in=referenced | set(ids.values()))
        .values("message_id", "thread_id", "activity_id", "mailbox_id")
        .order_by("pk")
    }
    stored_here = set(
        EmailMessage.objects.filter(mailbox=mailbox, message_id__in=ids.values()).values_list(
            "message_id", flat=True
        )
    )
    tombstoned = set(
        Tombstone.objects.filter(mailbox=mailbox, message_id__in=ids.values()).values_list(
            "message_id", flat=True
        )
    )
    batch_ids: set[str] = set()
    for header in headers:
        message_id = ids[header]
        if message_id in stored_here or message_id in batch_ids:
            result.skipped[SKIP_DUPLICATE] += 1
            continue
        if message_id in tombstoned:
            result.skipped[SKIP_TOMBSTONE] += 1
            continue
        contact_ids = sorted(
            {c for a in participants[header] for c in contacts_by_address.get(a, ())}
        )
        thread_hit = next((known[r] for r in threads.thread_keys(header) if r in known), None)
        direction = Direction.OUTGOING if header.from_addr.lower() in mine else Direction.INCOMING
        if contact_ids:
            reason = MatchReason.ADDRESS
            matched = [a for a in participants[header] if a in contacts_by_address]
            detail = "Matched address " + ", ".join(sorted(matched)[:3])
        elif thread_hit is not None:
            reason, detail = MatchReason.THREAD, "Replies to an email logged in the CRM"
        else:
            result.skipped[SKIP_NO_CONTACT] += 1
            continue
        result.kept.append(
            Kept(
                header,
                message_id,
                direction,
                reason,
                detail,
                contact_ids,
                thread_id=thread_hit["thread_id"] if thread_hit else None,
                thread_activity_id=thread_hit["activity_id"] if thread_hit else None,
            )
        )
        batch_ids.add(message_id)
    resolve_records(result.kept)
    return result


def resolve_records(kept: list[Kept]) -> None:
    """Fill each kept message's records: its contacts, their associated records, and the
    records the email it replies to is already on. Two queries for the whole page."""
    contact_ids = {c for k in kept for c in k.contact_ids}
    associated: dict[int, set[int]] = {}
    for src, dst in Association.objects.filter(from_record_id__in=contact_ids).values_list(
        "from_record_id", "to_record_id"
    ):
        associated.setdefault(src, set()).add(dst)
    thread_records: dict[int, set[int]] = {}
    activity_ids = {k.thread_activity_id for k in kept if k.thread_activity_id}
    for activity_id, record_id in ActivityLink.objects.filter(
        activity_id__in=activity_ids
    ).values_list("activity_id", "record_id"):
        thread_records.setdefault(activity_id, set()).add(record_id)
    for k in kept:
        k.record_ids = set(k.contact_ids)
        for contact_id in k.contact_ids:
            k.record_ids |= associated.get(contact_id, set())
        k.record_ids |= thread_records.get(k.thread_activity_id, set())


def auto_reply_reason(header: FetchedHeader) -> str:
    if not header.raw_headers:
        return autoreply.auto_reply_reason(parsing.Headers(subject=header.subject)) or ""
    return autoreply.auto_reply_reason(parsing.parse_headers(header.raw_headers)) or ""


@transaction.atomic
def write_page(mailbox: Mailbox, folder: FolderSync, kept: list[Kept], raws: dict[str, bytes]):
    """Create threads, activities, message rows and timeline links for a page, in bulk."""
    thread_of: dict[str, int] = {}
    new_threads = []
    for k in kept:
        if k.thread_id is None:
            # A message replying to another in this same page joins that one's thread.
            k.thread_id = next(
                (thread_of[r] for r in threads.thread_keys(k.header) if r in thread_of), None
            )
        if k.thread_id is None:
            thread = EmailThread(subject=threads.normalize_subject(k.header.subject)[:500])
            new_threads.append((k, thread))
            thread_of[k.message_id] = -len(new_threads)
        else:
            thread_of[k.message_id] = k.thread_id
    created = EmailThread.objects.bulk_create([t for _, t in new_threads])
    for (k, _), thread in zip(new_threads, created, strict=True):
        k.thread_id = thread.pk
    for k in kept:
        if k.thread_id < 0:
            k.thread_id = created[-k.thread_id - 1].pk
    now = timezone.now()
    owner_id = mailbox.owner_id
    activities = Activity.objects.bulk_create(
        [
            Activity(
                kind=ActivityKind.EMAIL,
                occurred_at=k.header.date or now,
                created_by_id=owner_id if k.direction == Direction.OUTGOING else None,
            )
            for k in kept
        ]
    )
    messages = EmailMessage.objects.bulk_create(
        [
            EmailMessage(
                mailbox=mailbox,
                folder=folder.folder,
                provider_ref=k.header.ref,
                message_id=k.message_id,
                in_reply_to=k.header.in_reply_to or "",
                references=" ".join(k.header.references),
                thread_id=k.thread_id,
                direction=k.direction,
                from_addr=k.header.from_addr.lower(),
                from_name=k.header.from_name,
                to_addrs=[a.lower() for a in k.header.to_addrs],
                cc_addrs=[a.lower() for a in k.header.cc_addrs],
                subject=k.header.subject[:998],
                sent_at=k.header.date,
                size=k.header.size,
                raw=raws.get(k.header.ref),
                is_auto_reply=bool(reason := auto_reply_reason(k.header)),
                auto_reply_reason=reason,
                match_reason=k.reason,
                match_detail=k.detail[:500],
                activity=activity,
            )
            for k, activity in zip(kept, activities, strict=True)
        ]
    )
    ActivityLink.objects.bulk_create(
        [
            ActivityLink(activity=a, record_id=record_id, occurred_at=a.occurred_at)
            for k, a in zip(kept, activities, strict=True)
            for record_id in k.record_ids
        ]
    )
    through = EmailMessage.contacts.through
    through.objects.bulk_create(
        [
            through(emailmessage_id=m.pk, contact_id=c)
            for k, m in zip(kept, messages, strict=True)
            for c in k.contact_ids
        ]
    )
    return messages


def sync_folder(mailbox: Mailbox, provider, folder: FolderSync, *, page_size=PAGE_SIZE) -> int:
    """Bring one folder up to date; return how many messages were logged."""
    logged = 0
    while True:
        FolderSync.objects.filter(pk=folder.pk).update(last_attempt_at=timezone.now())
        page = provider.changes(folder.folder, folder.cursor, page_size)
        decision = decide(mailbox, page.headers)
        refs = [k.header.ref for k in decision.kept]
        raws = {m.ref: m.raw for m in provider.fetch_raw(folder.folder, refs)} if refs else {}
        with transaction.atomic():
            locked = FolderSync.objects.select_for_update().get(pk=folder.pk)
            if locked.cursor != folder.cursor:
                # Another worker moved this folder on meanwhile; its pages win.
                return logged
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
            folder = locked
        logged += len(decision.kept)
        if not page.more:
            return logged


def ensure_folders(mailbox: Mailbox, provider) -> list[FolderSync]:
    """The folders sync reads (inbox and sent, found by role), created on first sight."""
    wanted = [f for f in provider.list_folders() if f.role in SYNCED_ROLES]
    rows = []
    for f in wanted:
        row, _ = FolderSync.objects.get_or_create(
            mailbox=mailbox, folder=f.name, defaults={"role": f.role or ""}
        )
        rows.append(row)
    return rows


def sync_mailbox(mailbox_id: int) -> int:
    """Sync every folder of an inbox; record failures on the inbox in words its owner reads.

    A refused sign-in or revoked grant marks the inbox "needs reconnect"; other permanent
    failures mark it "error"; temporary ones are noted on the folder and retried next run.
    """
    mailbox = Mailbox.objects.get(pk=mailbox_id)
    if mailbox.status == MailboxStatus.NEEDS_RECONNECT:
        return 0
    logged = 0
    try:
        with provider_for(mailbox) as provider:
            for folder in ensure_folders(mailbox, provider):
                try:
                    logged += sync_folder(mailbox, provider, folder)
                except ProviderError as exc:
                    FolderSync.objects.filter(pk=folder.pk).update(last_error=exc.message)
                    if exc.permanent:
                        raise
    except ProviderError as exc:
        if exc.stage == "auth":
            mailbox.mark_needs_reconnect(exc.message + testing_mode_hint(mailbox))
        elif exc.permanent:
            mailbox.mark_error(exc.message)
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

    from .providers.google_oauth import looks_like_testing_mode

    granted_at = datetime.fromisoformat(mailbox.config["granted_at"])
    if looks_like_testing_mode(granted_at, timezone.now(), mailbox.secret.get("scope", "").split()):
        return (
            " The Google Cloud app this server uses seems to be in Testing mode, where Google "
            "expires access after 7 days: an admin should publish it (OAuth consent screen > "
            "Publish app)."
        )
    return ""


def mailboxes_to_sync():
    return Mailbox.objects.exclude(status=MailboxStatus.NEEDS_RECONNECT).exclude(
        kind=MailboxKind.TEAM, team_inbox__isnull=True
    )


def reconcile_folder(mailbox: Mailbox, provider, folder: FolderSync) -> int:
    """Re-read the whole folder's headers and log what should be logged but is missing.

    This is what keeps "connected" honest: a cursor bug, a server that reordered UIDs or a
    skipped page shows up here as a gap, is reported on the folder and repaired.
    """
    missing = 0
    cursor = ""
    while True:
        page = provider.changes(folder.folder, cursor, PAGE_SIZE)
        decision = decide(mailbox, page.headers)
        if decision.kept:
            refs = [k.header.ref for k in decision.kept]
            raws = {m.ref: m.raw for m in provider.fetch_raw(folder.folder, refs)}
            write_page(mailbox, folder, decision.kept, raws)
            missing += len(decision.kept)
        cursor = page.cursor
        if not page.more:
            break
    now = timezone.now()
    gap = (
        f"{missing} messages were missing and have been logged ({now:%Y-%m-%d %H:%M} UTC)."
        if missing
        else ""
    )
    FolderSync.objects.filter(pk=folder.pk).update(
        reconciled_at=now, gap=gap, logged=F("logged") + missing
    )
    return missing


def reconcile_mailbox(mailbox_id: int) -> int:
    mailbox = Mailbox.objects.get(pk=mailbox_id)
    if mailbox.status == MailboxStatus.NEEDS_RECONNECT:
        return 0
    with provider_for(mailbox) as provider:
        return sum(
            reconcile_folder(mailbox, provider, f) for f in ensure_folders(mailbox, provider)
        )
