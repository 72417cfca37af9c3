"""Which messages of a page to log and on which records, from headers only (`decide`), and
why the others were skipped."""

import dataclasses
from collections import Counter
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db.models import F
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from mailboxes.constants import Direction, MailboxKind, MatchReason
from mailboxes.logging_rules import rules as logging_rules
from mailboxes.models import EmailMessage, Mailbox, Tombstone
from mailboxes.providers.base import FetchedHeader
from mailboxes.sync import senders, threads
from mailboxes.sync.auto_replies import auto_reply_reason
from mailboxes.sync.identity import stable_message_id, uid_stand_in_id
from records import selectors
from records.bulk import AnyOf
from records.constants import DealStage, RecordKind, TicketStatus
from records.models import ActivityLink, Association

# Why messages were skipped: the keys of a folder's skip reasons, stored in English and
# translated where they are shown (email_settings.html), so counts add up in any language.
SKIP_NO_CONTACT = gettext_noop("no CRM contact")
SKIP_DUPLICATE = gettext_noop("already logged")
SKIP_TOMBSTONE = gettext_noop("deleted in the CRM")
SKIP_REPORT = gettext_noop("delivery or spam report")
# The logging rules' (Settings > Email > Logging).
SKIP_NEVER_LOG = gettext_noop("never-log list")
SKIP_NOT_CRM_REPLY = gettext_noop("not a reply to email sent from the CRM")
REPORT_SENDERS = {"mailer-daemon", "postmaster", "mail-daemon", "mailerdaemon"}
CLOSED_DEAL_STAGES = (DealStage.WON, DealStage.LOST)


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
    new_thread: bool = False  # its thread is created by this page
    # An unknown sender a contact is created for when the page is written: (address, name).
    new_sender: tuple[str, str] | None = None


@dataclass
class PageResult:
    seen: int = 0
    kept: list[Kept] = field(default_factory=list)
    reports: list[str] = field(default_factory=list)  # refs of bounces / feedback reports
    skipped: Counter = field(default_factory=Counter)
    # Old UID stand-ins found stored, and the stable ids their rows get (`rename_stand_ins`).
    renamed: dict[str, str] = field(default_factory=dict)


def own_addresses(mailbox: Mailbox) -> set[str]:
    return {mailbox.email.lower()} | {a.email.lower() for a in mailbox.aliases.all()}


def decide(
    mailbox: Mailbox, headers: list[FetchedHeader], rules: logging_rules.Rules | None = None
) -> PageResult:
    """Choose which messages to log and on which records, from headers only.

    The account's logging rules (`rules`, read once per page when not given) decide too: a
    message whose participants besides this inbox are all on the never-log list is skipped,
    and the others on it count for nothing; in replies-only mode a message outside the
    threads of email sent from the CRM is skipped; with contacts created for unknown senders,
    a person's email from an unknown address is kept and its sender becomes a contact when
    the page is written.
    """
    result = PageResult(seen=len(headers))
    if not headers:
        return result
    rules = rules if rules is not None else logging_rules.for_sync()
    if mailbox.kind == MailboxKind.TEAM and mailbox.team_inbox.create_contacts:
        # A team inbox is the team's view of everyone who writes to it (the conversations
        # inbox): a person's email from an unknown address makes its sender a contact,
        # unless the inbox is set otherwise.
        rules = dataclasses.replace(rules, create_contacts=True, contacts_since=None)
    mine = own_addresses(mailbox)
    ids = [stable_message_id(h, mailbox) for h in headers]
    old_ids = [uid_stand_in_id(h, mailbox) for h in headers]
    page_ids = set(ids) | (set(old_ids) - {None})
    participants = [
        {a.lower() for a in (h.from_addr, *h.to_addrs, *h.cc_addrs) if a} - mine for h in headers
    ]
    # Never-logged participants count for nothing: an email is logged on none of them.
    # Each address is looked up once a page (most recur from message to message).
    never = {a for a in set().union(*participants) if rules.never_logged(a)}
    loggable = [people - never for people in participants]
    # An address belongs to one contact at most (a unique index), so an email is logged on
    # the contact that owns each participant's address and on no other.
    contacts_by_address = selectors.contacts_by_address(set().union(*loggable))
    keys = [threads.thread_keys(h) for h in headers]
    referenced = {ref for refs in keys for ref in refs}
    # One query answers both "which referenced emails does the CRM know" (threads) and
    # "which of this page's messages does this inbox already have" (duplicates).
    rows = list(
        EmailMessage.objects.filter(AnyOf(F("message_id"), referenced | page_ids))
        .values("message_id", "thread_id", "activity_id", "mailbox_id")
        .order_by("pk")
    )
    known = {row["message_id"]: row for row in rows}
    stored_here = {
        row["message_id"]
        for row in rows
        if row["mailbox_id"] == mailbox.pk and row["message_id"] in page_ids
    }
    tombstoned = set(
        Tombstone.objects.filter(mailbox=mailbox)
        .filter(AnyOf(F("message_id"), page_ids))
        .values_list("message_id", flat=True)
    )
    crm_threads = threads_sent_from_crm(rows) if rules.replies_only else set()
    batch_ids: set[str] = set()
    claimed = stored_here | tombstoned  # ids rows have: never the new name of another row
    each = zip(headers, ids, old_ids, participants, loggable, keys, strict=True)
    for header, message_id, old_id, everyone, people, refs in each:
        if old_id in claimed and message_id not in claimed:
            result.renamed[old_id] = message_id
            claimed.add(message_id)
        if message_id in stored_here or old_id in stored_here or message_id in batch_ids:
            result.skipped[SKIP_DUPLICATE] += 1
            continue
        if message_id in tombstoned or old_id in tombstoned:
            result.skipped[SKIP_TOMBSTONE] += 1
            continue
        if looks_like_report(header):
            # A bounce or spam report is applied to the email it is about, not logged.
            result.reports.append(header.ref)
            result.skipped[SKIP_REPORT] += 1
            continue
        if everyone and not people:
            result.skipped[SKIP_NEVER_LOG] += 1
            continue
        hits = [known[r] for r in refs if r in known]
        if rules.replies_only and not any(hit["thread_id"] in crm_threads for hit in hits):
            result.skipped[SKIP_NOT_CRM_REPLY] += 1
            continue
        matched = sorted(a for a in people if a in contacts_by_address)
        contact_ids = sorted({contacts_by_address[a] for a in matched})
        thread_hit = hits[0] if hits else None
        direction = Direction.OUTGOING if header.from_addr.lower() in mine else Direction.INCOMING
        new_sender = None
        if direction == Direction.INCOMING and wants_new_contact(header, people, matched, rules):
            new_sender = (header.from_addr.lower(), header.from_name)
        if contact_ids or new_sender:
            reason = MatchReason.ADDRESS
            details = []
            if matched:
                details.append(
                    _("Matched address %(addresses)s") % {"addresses": ", ".join(matched[:3])}
                )
            if new_sender:
                details.append(
                    _("New contact for the unknown sender %(address)s") % {"address": new_sender[0]}
                )
            detail = "; ".join(details)
        elif thread_hit is not None:
            reason, detail = MatchReason.THREAD, _("Replies to an email logged in the CRM")
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
                new_sender=new_sender,
            )
        )
        batch_ids.add(message_id)
    resolve_records(result.kept, rules)
    return result


def threads_sent_from_crm(rows: list[dict]) -> set[int]:
    """Which of the threads of `rows` hold an email sent from the CRM (one query)."""
    thread_ids = {row["thread_id"] for row in rows}
    return set(
        EmailMessage.objects.filter(thread_id__in=thread_ids, outbound__isnull=False)
        .order_by()
        .values_list("thread_id", flat=True)
        .distinct()
    )


def wants_new_contact(
    header: FetchedHeader, people: set[str], matched: list[str], rules: logging_rules.Rules
) -> bool:
    """Whether an incoming message's sender becomes a contact under the rules: an address no
    contact has and the never-log list spares, of a person (no automatic or list mail), on
    mail received since the rule was turned on."""
    if not rules.create_contacts:
        return False
    sender = header.from_addr.lower()
    if sender not in people or sender in matched:
        return False
    if rules.contacts_since and header.date and header.date < rules.contacts_since:
        return False
    if senders.machine_sender(sender) or auto_reply_reason(header):
        return False
    try:
        validate_email(sender)  # as a contact's address must be
    except ValidationError:
        return False
    return True


def looks_like_report(header: FetchedHeader) -> bool:
    """Cheap test from headers: a delivery status or feedback report, or mail from a daemon."""
    local = header.from_addr.split("@", 1)[0].lower()
    return local in REPORT_SENDERS or b"multipart/report" in header.raw_headers.lower()


def resolve_records(kept: list[Kept], rules: logging_rules.Rules) -> None:
    """Fill each kept message's records: its contacts, those of their associated records the
    rules name (companies, open deals, open tickets; other contacts and custom objects
    always), and the records the email it replies to is already on. Two queries for the
    whole page."""
    contact_ids = {c for k in kept for c in k.contact_ids}
    links = Association.objects.filter(AnyOf(F("from_record_id"), contact_ids))
    if not rules.on_companies:
        links = links.exclude(to_record__kind=RecordKind.COMPANY)
    if rules.on_open_deals:
        links = links.exclude(to_record__deal__stage__in=CLOSED_DEAL_STAGES)
    else:
        links = links.exclude(to_record__kind=RecordKind.DEAL)
    if rules.on_open_tickets:
        links = links.exclude(to_record__ticket__status=TicketStatus.CLOSED)
    else:
        links = links.exclude(to_record__kind=RecordKind.TICKET)
    associated: dict[int, set[int]] = {}
    for src, dst in links.values_list("from_record_id", "to_record_id"):
        associated.setdefault(src, set()).add(dst)
    thread_records: dict[int, set[int]] = {}
    activity_ids = {k.thread_activity_id for k in kept if k.thread_activity_id}
    for activity_id, record_id in ActivityLink.objects.filter(
        AnyOf(F("activity_id"), activity_ids)
    ).values_list("activity_id", "record_id"):
        thread_records.setdefault(activity_id, set()).add(record_id)
    for k in kept:
        k.record_ids = set(k.contact_ids)
        for contact_id in k.contact_ids:
            k.record_ids |= associated.get(contact_id, set())
        k.record_ids |= thread_records.get(k.thread_activity_id, set())
