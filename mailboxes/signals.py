"""What mailboxes tells the layers above it (sequences, transactional, reports), without
importing them.

Every signal is sent after the transaction that recorded the fact commits (never for work that
rolled back), with `sender` the module that sent it and one keyword argument, `event`, a frozen
dataclass below. Receivers run in the worker that recorded the fact; one that is slow should
queue a task of its own. A receiver that raises is logged and does not stop the others
(`send_robust`), so a bug in a feature above cannot lose a sync page or a send.

- `reply_received`, event `ReplyReceived`: sync logged an incoming email from a CRM contact.
  `replied_to` holds the rep's emails of its thread, sent from the CRM or logged from the inbox
  (empty when a server rewrote the headers: match on `contact_ids` then). Auto-replies come
  too, flagged, with the return date an out-of-office message gave, if any (read from the
  message when a receiver first asks for it: most never do).
- `replies_received`, event `RepliesReceived`: the same emails, once per sync page with all of
  its `ReplyReceived`s, for a receiver that answers them with a query per page rather than
  per email (sequences: most mail from contacts concerns no live enrollment, and a query an
  email halved the initial sync's rate).
- `messages_synced`, event `MessagesSynced`: sync wrote a page of messages of one inbox (in
  and out, from any sender), one event per page. The conversations inbox files a team inbox's
  mail into its conversations from it.
- `bounce_recorded`, event `BounceRecorded`: a delivery report marked an email sent from the
  CRM hard- or soft-bounced.
- `complaint_received`, event `ComplaintReceived`: an ARF report (a spam complaint, or a
  feedback loop's opt-out) about an email sent from the CRM was applied: its contacts are
  opted out through privacy already.
- `delivery_reported`, event `DeliveryReported`: a success DSN (the relay was asked for one,
  RFC 3461, and the receiving side took the email) about an email sent from the CRM, one
  event per delivered recipient.
- `email_sent`, `email_failed`, `email_uncertain`, event `SendOutcome`: the outbound worker
  finished with an email (uncertain: it may have gone out; the rep decides).
- `email_opened`, `email_clicked`, event `TrackingRecorded`: an open or click was stored, with
  its reason code (human, privacy proxy, security scanner, prefetch). Only sent when a receiver
  is connected: the tracking flush writes thousands a second.
"""

from dataclasses import dataclass
from datetime import date, datetime

from django.dispatch import Signal

from records import signals as record_signals

reply_received = Signal()
replies_received = Signal()
messages_synced = Signal()
bounce_recorded = Signal()
complaint_received = Signal()
delivery_reported = Signal()
email_sent = Signal()
email_failed = Signal()
email_uncertain = Signal()
email_opened = Signal()
email_clicked = Signal()


class ReadWhenAsked:
    """A dataclass field that may be given a function of no arguments instead of its value:
    the function is called when the field is first read, and its result kept. For a value
    that costs to find and that most receivers never read (an out-of-office message's return
    date: a full parse of the message)."""

    def __set_name__(self, owner, name: str) -> None:
        self.key = f"_{name}"

    def __get__(self, instance, owner=None):
        if instance is None:
            return None  # the field's default
        value = instance.__dict__[self.key]
        if callable(value):
            value = instance.__dict__[self.key] = value()
        return value

    def __set__(self, instance, value) -> None:
        instance.__dict__[self.key] = value


@dataclass(frozen=True)
class ReplyReceived:
    message_id: int  # EmailMessage pk
    thread_id: int
    mailbox_id: int
    contact_ids: tuple[int, ...]
    replied_to: tuple[int, ...]  # EmailMessage pks of the outgoing emails of its thread
    received_at: datetime | None
    is_auto_reply: bool
    auto_reply_reason: str
    # From an out-of-office text ("back on 14 March"); sync reads it when first asked.
    return_date: date | None = ReadWhenAsked()  # type: ignore[assignment]


@dataclass(frozen=True)
class RepliesReceived:
    replies: tuple[ReplyReceived, ...]  # the incoming emails from contacts of one page


@dataclass(frozen=True)
class MessagesSynced:
    mailbox_id: int
    message_ids: tuple[int, ...]  # EmailMessage pks written by one page


@dataclass(frozen=True)
class BounceRecorded:
    message_id: int  # the email that bounced
    outbound_id: int | None
    address: str
    hard: bool
    reason: str
    source: str
    source_id: int | None
    contact_ids: tuple[int, ...]


@dataclass(frozen=True)
class ComplaintReceived:
    message_id: int  # the email complained about
    outbound_id: int | None
    feedback_type: str  # ARF's Feedback-Type: "abuse" (spam complaint) or "opt-out"
    addresses: tuple[str, ...]  # the complaining addresses, when the provider gives them
    source: str
    source_id: int | None
    contact_ids: tuple[int, ...]  # the contacts opted out


@dataclass(frozen=True)
class DeliveryReported:
    """A success DSN (bounces/processing.py): the receiving side took the email for
    `address`. Only ever for an email the CRM sent, matched by its envelope id or
    Message-ID, never by address alone."""

    message_id: int  # the email delivered
    outbound_id: int
    address: str
    reporting_mta: str
    source: str
    source_id: int | None


@dataclass(frozen=True)
class SendOutcome:
    outbound_id: int
    message_id: int
    status: str  # SendStatus: sent, failed or uncertain
    source: str
    source_id: int | None
    contact_ids: tuple[int, ...]
    detail: str  # the reason in words, for failed and uncertain
    # Sent from a team inbox's address: the conversations inbox files it (its receivers
    # need not ask for each of a rep's own emails).
    from_team_inbox: bool


@dataclass(frozen=True)
class TrackingRecorded:
    message_id: int
    kind: str  # TrackingKind
    reason: str  # TrackingReason: only "human" counts as a person
    at: datetime
    link_id: int | None
    source: str
    source_id: int | None


def send_on_commit(signal: Signal, sender, events) -> None:
    """Send `signal` once per event of `events` after the current transaction commits
    (records.signals.send_on_commit)."""
    record_signals.send_on_commit(signal, sender, *events)
