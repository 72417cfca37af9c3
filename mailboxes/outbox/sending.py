"""Send queued email through each inbox's provider, once, and record what happened.

An `Outbound` row goes through these states:

    scheduled ─┐
    queued ────┴─> sending ─> sent
       ^    │        │  ├───> failed       (permanent error, too many attempts, privacy refusal)
       │    │        │  ├───> checking ──> (the provider is asked: sent, reconciled, sending
       │    │        │  │                   again, or uncertain)
       │    │        │  ├───> uncertain    (it may have gone out and the provider cannot tell:
       │    │        │  │                   the rep decides)
       └────┼────────┘  └───> reconciled   (it may have gone out, and the copy is in Sent)
            └─> cancelled

Claiming. A worker claims due rows with SELECT ... FOR UPDATE SKIP LOCKED and stamps them with
`claimed_at`; the stamp is its proof of ownership, and every later change is a conditional
UPDATE on it (cancelling in between wins over sending). A claimed row that is still
queued is free again after CLAIM_LEASE (its worker died before reaching it); a row in
"sending" is presumed orphaned after SEND_LEASE, far longer than any provider timeout.

One attempt, for one row:
1. A row that may already have gone out is looked up in the inbox's Sent folder first
   (reconcile.py): one found in "sending" (its worker died), or one in "checking" (its
   answer was lost, step 4). Found -> reconciled, nothing sent. Not found, where the provider
   files everything it sends (Gmail, Graph, EWS; an SMTP server learned to, copies.py) -> it
   never went out, so it goes on below. Not found elsewhere (plain SMTP) -> uncertain, never
   resent automatically: only the rep can tell (`outbound_send_again`, `outbound_mark_sent`).
   A retry after a definite temporary refusal is looked up too (it finds sends that an API
   provider completed despite its error).
2. The privacy check runs again for every contact, at most SCREEN_SECONDS before the email
   goes out (`_PrivacyScreen`: `can_email_many` for the batch, `authorize_send` with the
   Message-ID as reference for anything it does not plainly allow, so refusals are audited
   and a one-time basis consumed at submit time still counts). A refusal fails the email with
   the check's words; nothing is sent.
   Then the send guard of the email's source, if one is registered (guards.py: a sequence
   asks whether the enrollment is still live): a refusal cancels the email with the guard's
   words in its history; nothing is sent.
3. One commit (one statement on PostgreSQL): the row becomes "sending" with attempts + 1,
   tokens are taken from each of the inbox's minute and day windows the message may land in
   (`throttle.py`: one a minute, one per recipient a day; two windows of each near the end
   of a minute, see below), and an earlier accepted
   send of the inbox is recorded. Only then does any byte go to the provider. Over a limit,
   the row waits, queued, until the next window, and so do the inbox's other rows.
4. `provider.send()`. Accepted -> sent (provider id; sent_at on the message too), recorded
   by the next commit, with the Sent copy it owes (copies.py). An error that says the
   message may have gone out (`ProviderError.maybe_sent`: the connection dropped after the
   message was handed over, before the answer) -> "checking" at once, looked up as in step 1
   after CHECK_DELAY, never retried blind. Another temporary error -> queued again with
   backoff; permanent, or MAX_ATTEMPTS reached -> failed with the provider's words.
5. Providers that do not file sent mail (plain SMTP) owe a copy APPENDed to Sent, \\Seen,
   by a follow-up task (copies.py) queued when the pass ends, or by the periodic filer.

Everything off the plain queued-then-sent path (a lost answer, what a lookup found, a retry,
a failure, a person's decision) is a line of the email's history (`OutboundEvent`).

Beside this module: outcomes.py, how a row ends or waits, and its history; reconcile.py, step 1.

A worker pass (`send_due`) keeps one adapter per inbox open across its batches, so SMTP and
IMAP sessions are reused. Over plain SMTP, sends run on a helper thread two deep: the commit
of step 3 for the next row happens while the current message is on the wire (see
`_send_group`), and that pipeline carries over from one batch to the next, whose rows a
second helper thread claims and loads meanwhile (`_Ahead`, on PostgreSQL). A worker that
dies therefore leaves at most two rows in "sending"; both are treated as in step 1, never
sent twice. What each of these saves is measured by bench/send_throughput.py.

The limits hold to the moment a message lands (the server counts it when DATA completes), not
to its hand-over, which can come two sends earlier: a send's tokens cover every window it may
land in until twice "the longest recent send plus a second" after its hand-over, so in the
last seconds of a minute it takes a token of the next minute too, and gives back, once the
server has answered, the token of a window it cannot have landed in; just before its bytes go
out the sender thread checks that it can still land before the last minute it holds ends, or
holds it back (queued again as it was, its tokens given back: nothing was sent). See
`_Pipeline` and throttle.py; the bench and tests/integration/test_send_limits.py check the
sink's arrival times against every limit.
"""

from __future__ import annotations

import functools
import logging
import time
from collections import Counter, defaultdict, deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import groupby

from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from mailboxes import jobs
from mailboxes.connecting.connections import provider_for
from mailboxes.constants import SendStatus, SentCopy
from mailboxes.models import EmailMessage, Mailbox, Outbound
from mailboxes.outbox import guards, throttle, transports
from mailboxes.outbox.outcomes import (
    ACTIVE,
    WAITING,
    Accepted,
    Claim,
    announce,
    cancel,
    fail,
    failed_attempt,
    owned,
    record_sent,
    sent_fields,
    wait,
)
from mailboxes.outbox.reconcile import look_in_sent, unconfirmed
from mailboxes.outbox.server_cursor import server_cursor
from mailboxes.providers.base import MailProvider, OutgoingMessage, ProviderError, SendResult
from privacy.checks import can_email_many
from privacy.services import authorize_send
from records.models import Contact, User

log = logging.getLogger(__name__)

CLAIM_LEASE = timedelta(minutes=5)
SEND_LEASE = timedelta(minutes=10)
BATCH = 200
# A beat-driven pass stops claiming after this long, so runs every 30 s do not pile up.
PASS_SECONDS = 25.0
# Adapters whose send() may run on the sender thread: nothing in it touches the database.
# (OAuth adapters save refreshed tokens through the ORM from inside send().)
THREADED_SENDS = frozenset({"imap"})
# The bulk privacy decisions of a batch are taken again when older than this.
SCREEN_SECONDS = 2.0
# How long a send may take, for counting it in the window it lands in (`_Pipeline`): the
# longest of the inbox's last RECENT_SENDS, plus WINDOW_SLACK seconds for a send a little
# slower than those; before the first one is measured, FIRST_SEND_GUESS (it connects too).
# At most SLOWEST_SEND, so that a send's tokens span no more than two minute windows.
WINDOW_SLACK = 1.0
RECENT_SENDS = 16
FIRST_SEND_GUESS = 2.0
SLOWEST_SEND = 20.0

# The words an email's history and its last error keep, in the language of the account
# (lazy: translated when written, by str()).
NO_INBOX_WORDS = gettext_lazy("The inbox this email was to be sent from is no longer connected.")
INCOMPLETE_INBOX_WORDS = gettext_lazy(
    "This inbox's connection settings are incomplete: reconnect it."
)
NO_CONTENT_WORDS = gettext_lazy("The email's content is missing, so it cannot be sent.")


# -- claiming ------------------------------------------------------------------------------


def _due(now: datetime) -> Q:
    waiting = Q(status__in=(*WAITING, SendStatus.CHECKING), next_attempt_at__lte=now) & (
        Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - CLAIM_LEASE)
    )
    orphaned = Q(status=SendStatus.SENDING) & (
        Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - SEND_LEASE)
    )
    # Email of a source with a transport of its own (transactional) goes out through no inbox:
    # its own worker, on its own queue, sends it (transports.py).
    return (waiting | orphaned) & ~Q(source__in=transports.sources())


def _claim(where: Q, limit: int) -> list[Claim]:
    now = timezone.now()
    with transaction.atomic():
        rows = list(
            Outbound.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(where)
            .order_by("next_attempt_at", "pk")
            .values_list("pk", "status", "claimed_at")[:limit]
        )
        if rows:
            Outbound.objects.filter(pk__in=[row[0] for row in rows]).update(claimed_at=now)
    return [
        Claim(pk, now, status == SendStatus.SENDING, claimed_at, status == SendStatus.CHECKING)
        for pk, status, claimed_at in rows
    ]


def claim_due(limit: int = BATCH) -> list[Claim]:
    """Claim up to `limit` rows that are due, oldest first, skipping rows others hold.

    Due: queued, scheduled or checking with next_attempt_at in the past and no live claim, or
    left in "sending" longer than SEND_LEASE by a worker that died.
    """
    return _claim(_due(timezone.now()), limit)


# -- one worker pass ---------------------------------------------------------------------------


class _Inline:
    """Run a call on the caller's thread and hand back a finished future."""

    def submit(self, fn, *args, **kwargs) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as exc:
            future.set_exception(exc)
        return future


class _PrivacyScreen:
    """The send-time privacy check for a batch, in bulk, never older than SCREEN_SECONDS.

    `can_email_many` decides for every contact of the batch in two queries. A contact it
    allows needs nothing more: `authorize_send` would allow too and write nothing (it writes
    only refusals and one-time-basis allows, and a standing allow wins over a one-time basis).
    Any other answer goes through `authorize_send` for the one email, which audits refusals
    and consumes one-time bases exactly as at submit time.
    """

    def __init__(self, rows: list[Outbound], contacts: dict[int, Contact]) -> None:
        self.rows, self.contacts = rows, contacts
        self.allowed: set[tuple[str, int]] = set()
        self.checked_at: float | None = None

    def refresh(self) -> None:
        wanted: dict[str, set[int]] = defaultdict(set)
        for row in self.rows:
            wanted[row.privacy_context].update(c for c in row.contact_ids if c in self.contacts)
        self.allowed = set()
        for context, ids in wanted.items():
            decisions = can_email_many([self.contacts[pk] for pk in ids], context)
            self.allowed.update((context, pk) for pk, d in decisions.items() if d.allowed)
        self.checked_at = time.monotonic()

    def refusal(self, row: Outbound) -> str:
        """Return why the email may not go out now, or "" when it may."""
        ids = [pk for pk in row.contact_ids if pk in self.contacts]
        if not ids:
            return ""  # no CRM contact among the recipients (or deleted since)
        if self.checked_at is None or time.monotonic() - self.checked_at > SCREEN_SECONDS:
            self.refresh()
        if all((row.privacy_context, pk) in self.allowed for pk in ids):
            return ""
        return _privacy_refusal(row, self.contacts)


def _privacy_refusal(row: Outbound, contacts: dict[int, Contact]) -> str:
    refusals = []
    for contact_id in row.contact_ids:
        contact = contacts.get(contact_id)
        if contact is None:
            continue  # deleted since: no longer a CRM contact to protect
        decision = authorize_send(
            contact,
            row.privacy_context,
            actor=row.sender,
            message_ref=row.message.message_id,
            one_time_basis=row.one_time_basis_id,
        )
        if not decision.allowed:
            refusals.append(decision.message)
    if not refusals:
        return ""
    return _("Not sent: the privacy check refused it when it was due to go out. %(why)s") % {
        "why": " ".join(refusals)
    }


@dataclass
class Pass:
    """One worker's pass over claimed rows: adapters opened once per inbox and reused.

    Sent copies for inboxes whose server does not file them are owed in the database (see
    copies.py) and filed by one follow-up task per inbox, queued when the pass ends: an IMAP
    APPEND costs as much as the SMTP send (more against a remote server), and delivery should
    not wait for it.
    """

    providers: dict[int, MailProvider] = field(default_factory=dict)
    sent_folders: dict[int, str | None] = field(default_factory=dict)
    owing: set[int] = field(default_factory=set)  # inboxes owed a Sent copy by this pass
    # By inbox, or by (inbox, source) for a source's own limit.
    over_limit: dict[int | tuple[int, str], throttle.OverLimit] = field(default_factory=dict)
    outcomes: Counter = field(default_factory=Counter)
    # The inbox whose sends are in progress: kept from one batch to the next, so claiming and
    # loading a batch happens while the last messages of the one before are on the wire.
    pipeline: _Pipeline | None = None
    _sender: ThreadPoolExecutor | None = None

    def provider(self, mailbox: Mailbox) -> MailProvider:
        if mailbox.pk not in self.providers:
            self.providers[mailbox.pk] = provider_for(mailbox)
        return self.providers[mailbox.pk]

    def executor_for(self, provider: MailProvider):
        """Where the provider's send() runs: the pass's sender thread, or inline."""
        if provider.kind not in THREADED_SENDS:
            return _Inline()
        if self._sender is None:
            self._sender = ThreadPoolExecutor(1, thread_name_prefix="outbound-send")
        return self._sender

    def sent_folder(self, mailbox: Mailbox) -> str | None:
        """Return the name of the inbox's Sent folder (by role), None when it has none."""
        if mailbox.pk not in self.sent_folders:
            folders = self.provider(mailbox).list_folders()
            self.sent_folders[mailbox.pk] = next(
                (f.name for f in folders if f.role == "sent"), None
            )
        return self.sent_folders[mailbox.pk]

    def count(self, outcome: str) -> None:
        self.outcomes[outcome] += 1

    def pipeline_for(self, mailbox: Mailbox, provider: MailProvider) -> _Pipeline:
        """Return the inbox's pipeline, after finishing another inbox's sends in progress."""
        if self.pipeline is not None and self.pipeline.mailbox.pk != mailbox.pk:
            self.finish_sends()
        if self.pipeline is None:
            self.pipeline = _Pipeline(mailbox, provider)
        return self.pipeline

    def finish_sends(self) -> None:
        pipeline, self.pipeline = self.pipeline, None
        if pipeline is not None:
            pipeline.drain(self)

    def close(self) -> None:
        try:
            self.finish_sends()
        except Exception:  # the rows keep "sending": recovery looks them up after the lease
            log.exception("recording the last sends of a pass failed")
        owing, self.owing = self.owing, set()
        for mailbox_id in sorted(owing):
            jobs.later(jobs.FILE_SENT_COPIES, mailbox_id)
        if self._sender is not None:
            self._sender.shutdown(wait=True)
            self._sender = None
        providers, self.providers = self.providers, {}
        for provider in providers.values():
            try:
                provider.close()
            except Exception:  # a dead connection must not hide the pass's result
                log.warning("closing a provider failed", exc_info=True)

    def __enter__(self) -> Pass:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


@dataclass
class _Batch:
    """Claimed rows loaded for sending: inbox and sender set, privacy decided in bulk."""

    claims: dict[int, Claim]
    rows: list[Outbound]
    screen: _PrivacyScreen


def _load(claims: list[Claim]) -> _Batch:
    by_id = {claim.id: claim for claim in claims}
    rows = list(
        Outbound.objects.filter(pk__in=by_id)
        .select_related("message")
        .defer("message__text_body", "message__html_body", "message__raw")
    )
    # One instance per inbox and sender, not per row: an inbox's secret is decrypted once.
    mailboxes = Mailbox.objects.in_bulk({row.mailbox_id for row in rows} - {None})
    senders = User.objects.in_bulk({row.sender_id for row in rows} - {None})
    for row in rows:
        row.mailbox = mailboxes.get(row.mailbox_id)
        row.sender = senders.get(row.sender_id)
    rows.sort(key=lambda row: (row.mailbox_id or 0, row.next_attempt_at, row.pk))
    contact_ids = {pk for row in rows for pk in row.contact_ids}
    contacts = Contact.objects.in_bulk(contact_ids) if contact_ids else {}
    screen = _PrivacyScreen(rows, contacts)
    screen.refresh()
    return _Batch(by_id, rows, screen)


def _claim_and_load(limit: int) -> _Batch | None:
    claims = claim_due(limit)
    return _load(claims) if claims else None


def _send_batch(batch: _Batch, run: Pass) -> None:
    for _inbox, group in groupby(batch.rows, key=lambda row: row.mailbox_id):
        _send_group(run, list(group), batch.claims, batch.screen)


def send_claimed(claims: list[Claim], run: Pass | None = None) -> Counter:
    """Send the claimed rows, inbox by inbox; return how many ended in each outcome."""
    if not claims:
        return Counter()
    own = run is None
    run = run or Pass()
    try:
        _send_batch(_load(claims), run)
    finally:
        if own:
            run.close()
    return run.outcomes


def send_outbound(outbound_id: int) -> str | None:
    """Send one email now if it is due and nobody holds it; return its outcome or None.

    A no-op for a row already sent, failed, cancelled, held by another worker, or not due yet.
    """
    outcomes = send_outbounds([outbound_id])
    return next(iter(outcomes), None)


def send_outbounds(outbound_ids: list[int]) -> Counter:
    """`send_outbound` for the emails of one job (a batch queued together, as a sequence's
    tick queues them): those due and free claimed at once and sent in one pass, inbox by
    inbox; return how many ended in each outcome."""
    claims = _claim(Q(pk__in=outbound_ids) & _due(timezone.now()), len(outbound_ids))
    return send_claimed(claims)


class _Ahead:
    """Where the next batch is claimed and loaded: on PostgreSQL a helper thread with its own
    database connection, so that happens while this batch is being sent (done in between, it
    held the sender up for a tenth of a run); inline elsewhere (SQLite allows one writer at a
    time). Should the pass fail, rows claimed ahead wait out their lease (CLAIM_LEASE)."""

    def __enter__(self):
        threaded = connection.vendor == "postgresql"
        self.executor = ThreadPoolExecutor(1, "outbound-claim") if threaded else None
        return self

    def submit(self, fn, *args) -> Future:
        return (self.executor or _Inline()).submit(fn, *args)

    def __exit__(self, *exc_info) -> None:
        if self.executor is not None:
            # Looked up on the helper thread: its own connection, not this thread's.
            self.executor.submit(lambda: connection.close())
            self.executor.shutdown(wait=True)


def send_due(limit: int = BATCH, seconds: float = PASS_SECONDS) -> Counter:
    """Claim and send due email in batches until none is left or `seconds` have passed."""
    if cache.add("outbound-counters-cleanup", "1", 3600):
        throttle.forget_old()
    deadline = time.monotonic() + seconds
    with Pass() as run, _Ahead() as ahead:
        batch = _claim_and_load(limit)
        while batch is not None:
            upcoming = ahead.submit(_claim_and_load, limit)
            _send_batch(batch, run)
            batch = upcoming.result()
            if batch is not None and time.monotonic() >= deadline:
                # Claimed but out of time: let the next pass have them now, not after the lease.
                _release(batch)
                batch = None
    return run.outcomes


def _release(batch: _Batch) -> None:
    for claim in batch.claims.values():
        Outbound.objects.filter(pk=claim.id, claimed_at=claim.stamp).update(
            claimed_at=claim.previous_claim
        )


# -- one inbox's rows ----------------------------------------------------------------------------


@dataclass
class _Flight:
    """A row handed to the provider: its "sending" claim, attempt number and future result."""

    row: Outbound
    claim: Claim
    attempts: int
    future: Future
    wire: _Wire


def _send_group(run: Pass, rows: list[Outbound], claims: dict[int, Claim], screen) -> None:
    """Send one inbox's claimed rows in order.

    A pipeline two deep: while one message is on the wire (on the sender thread), this thread
    commits, in one statement, the result of the one before it and the "sending" mark and
    tokens of the next, and queues that one behind the wire, so the sender thread goes from
    one message to the next without waiting for this one. Every byte still leaves only after
    its row's mark is committed; a worker that dies leaves at most two rows in "sending", the
    one on the wire and one whose outcome it knew (accepted but not yet recorded, or marked
    and queued), and recovery deals with both as with any orphan: never sent twice, at worst
    "uncertain".

    The limits hold to when a message lands, although its tokens are taken at hand-over, up
    to two sends earlier: the tokens cover every window it may land in until `margin` after
    its hand-over, and the sender thread holds it back when its last window would close
    before it could land (see `_Pipeline`).
    """
    mailbox = rows[0].mailbox
    if mailbox is None:
        for row in rows:
            run.count(fail(row, claims[row.pk], str(NO_INBOX_WORDS)))
        return
    try:
        provider = run.provider(mailbox)
    except (KeyError, TypeError, ValueError) as exc:
        log.warning("inbox %s has no usable provider settings: %r", mailbox.pk, exc)
        for row in rows:
            run.count(fail(row, claims[row.pk], str(INCOMPLETE_INBOX_WORDS)))
        return
    executor = run.executor_for(provider)
    contents = _Contents(rows)
    pipe = run.pipeline_for(mailbox, provider)
    for row in rows:
        claim = claims[row.pk]
        try:
            if claim.orphaned or claim.checking or row.attempts:
                # The lookup uses the adapter's IMAP side: nothing may be in flight.
                pipe.drain(run)
                outcome = look_in_sent(row, claim, run, mailbox, provider)
                if outcome is not None:
                    run.count(outcome)
                    continue
            over = run.over_limit.get(mailbox.pk) or run.over_limit.get((mailbox.pk, row.source))
            if over is not None and over.retry_at > timezone.now():
                run.count(wait(row, claim, over))
                continue
            refusal = screen.refusal(row)
            if refusal:
                run.count(fail(row, claim, refusal))
                continue
            refusal = guards.refusal(row)
            if refusal:
                run.count(cancel(row, claim, refusal))
                continue
            outgoing = _outgoing(row, contents.raw(row))
            if outgoing is None:
                run.count(fail(row, claim, str(NO_CONTENT_WORDS)))
                continue
            now = timezone.now()
            accepted, pipe.done = pipe.done, None
            tokens, over = _hand_over(accepted, row, claim, mailbox, now, pipe.margin())
            if accepted is not None:
                _committed(run, mailbox, provider, accepted)
            if over is not None:
                # A source's own limit holds back that source's mail only.
                run.over_limit[(mailbox.pk, over.source) if over.source else mailbox.pk] = over
                run.count("throttled")
                continue
            if tokens is None:
                run.count("skipped")  # cancelled, or taken over after our claim expired
                continue
            # Queued behind the send on the wire, so the sender thread goes straight on to it;
            # then wait for the one before.
            wire = _Wire(tokens)
            landed, pipe.flight = (
                pipe.flight,
                _Flight(
                    row,
                    Claim(row.pk, now, False),
                    row.attempts + 1,
                    executor.submit(pipe.send, outgoing, wire),
                    wire,
                ),
            )
            pipe.done = pipe.land(run, landed)
        except Exception:
            # The row keeps its claim (or "sending"), so a later pass picks it up after the
            # lease, through the Sent-folder check if it may have gone out.
            log.exception("sending outbound %s failed unexpectedly", row.pk)
            run.count("error")


@dataclass
class _Wire:
    """What the sender thread needs to know and notes about one send (time.time() stamps)."""

    tokens: throttle.Tokens
    started_at: float = 0.0
    landed_at: float = 0.0  # when the provider answered

    def settle(self) -> None:
        """Keep the tokens of the windows the message may have landed in (see throttle)."""
        moments = (datetime.fromtimestamp(t, UTC) for t in (self.started_at, self.landed_at))
        throttle.settle(self.tokens, *moments)


class _HeldBack(Exception):
    """Nothing was sent: the message could not land before its last window closes."""


@dataclass
class _Pipeline:
    """One inbox's sends in progress: the one handed to the provider (maybe still queued
    behind the one on the wire) and the one before it, accepted but not yet recorded.

    And how long its sends take, so that each is counted in the window it lands in. A send
    may land up to `margin()` after its hand-over: one send for the one ahead of it on the
    wire, one for itself, each the longest of the last RECENT_SENDS plus WINDOW_SLACK; its
    tokens cover every window until then. Just before the bytes go out, the sender thread
    checks that one such send still fits before the end of the last minute it holds: if the
    one ahead of it took longer than that, it sends nothing and the row goes back to the
    queue, its tokens given back (`_hold_back`). Once accepted, the send keeps the tokens of
    the windows between its start and the server's answer only (`throttle.settle`).
    """

    mailbox: Mailbox
    provider: MailProvider
    flight: _Flight | None = None
    done: Accepted | None = None
    # Read by this thread, written by the sender thread: a float swaps whole.
    slowest: float = FIRST_SEND_GUESS
    recent: deque = field(default_factory=lambda: deque(maxlen=RECENT_SENDS))

    def guard(self) -> float:
        return WINDOW_SLACK + self.slowest

    def margin(self) -> float:
        return 2 * self.guard()

    def send(self, outgoing: OutgoingMessage, wire: _Wire) -> SendResult:
        """On the sender thread: put the message on the wire if it can land in its windows."""
        wire.started_at = time.time()
        if wire.started_at + self.guard() >= wire.tokens.until.timestamp():
            raise _HeldBack
        try:
            return self.provider.send(outgoing)
        finally:
            wire.landed_at = time.time()
            self.recent.append(wire.landed_at - wire.started_at)
            self.slowest = min(max(self.recent), SLOWEST_SEND)

    def land(self, run: Pass, flight: _Flight | None) -> Accepted | None:
        """Wait for the send in flight; return it if accepted (see `_land`)."""
        if flight is not None and isinstance(flight.future.exception(), _HeldBack):
            _hold_back(flight)
            run.count("held back")
            return None
        accepted = _land(run, self.mailbox, flight)
        if accepted is not None:
            flight.wire.settle()
        return accepted

    def drain(self, run: Pass) -> None:
        """Wait for the send in flight and record every accepted send not yet recorded."""
        flight, done, self.flight, self.done = self.flight, self.done, None, None
        accepted = [a for a in (done, self.land(run, flight)) if a is not None]
        if not accepted:
            return
        with transaction.atomic():
            for item in accepted:
                record_sent(item)
        for item in accepted:
            _committed(run, self.mailbox, self.provider, item)


def _hold_back(flight: _Flight) -> None:
    """Queue a row the sender thread held back as it was before its hand-over (nothing of it
    was sent), and give its tokens back."""
    with transaction.atomic():
        throttle.give_back(flight.wire.tokens)
        Outbound.objects.filter(
            pk=flight.row.pk, claimed_at=flight.claim.stamp, status=SendStatus.SENDING
        ).update(status=SendStatus.QUEUED, attempts=F("attempts") - 1, claimed_at=None)


class _Contents:
    """The raw MIME of one inbox's rows, fetched a few rows ahead of the one being sent.

    Not with the batch: 200 messages of 25 kB each would hold up the sender for tens of
    milliseconds, where a slice fetched while the previous message is on the wire costs it
    nothing.
    """

    AHEAD = 8

    def __init__(self, rows: list[Outbound]) -> None:
        self.rows = rows
        self.position = {row.pk: n for n, row in enumerate(rows)}
        self.fetched: dict[int, bytes] = {}

    def raw(self, row: Outbound) -> bytes | None:
        if row.message_id not in self.fetched:
            start = self.position[row.pk]
            ahead = [r.message_id for r in self.rows[start : start + self.AHEAD]]
            self.fetched.update(dict.fromkeys(ahead, b""))
            self.fetched.update(raw_mime(ahead))
        return self.fetched.pop(row.message_id) or None


def raw_mime(message_ids: list[int]) -> dict[int, bytes]:
    """Return {message id: raw MIME} for the messages that have it.

    On PostgreSQL the bytes come in binary (see server_cursor.py).
    """
    if connection.vendor != "postgresql":
        rows = EmailMessage.objects.filter(pk__in=message_ids).values_list("pk", "raw")
        return {pk: bytes(raw) for pk, raw in rows if raw}
    table = connection.ops.quote_name(EmailMessage._meta.db_table)
    with server_cursor(binary=True) as cursor:
        cursor.execute(f"SELECT id, raw FROM {table} WHERE id = ANY(%s)", [message_ids])
        return {pk: raw for pk, raw in cursor.fetchall() if raw}


def _outgoing(row: Outbound, raw: bytes | None) -> OutgoingMessage | None:
    if not raw:
        return None
    return OutgoingMessage(
        envelope_from=row.envelope_from,
        recipients=list(row.recipients),
        raw=raw,
        message_id=row.message.message_id,
    )


def _land(run: Pass, mailbox, flight: _Flight | None) -> Accepted | None:
    """Wait for the send in flight; return it if accepted, else deal with its error."""
    if flight is None:
        return None
    try:
        result = flight.future.result()
    except ProviderError as error:
        if error.maybe_sent:
            run.count(unconfirmed(flight.row, flight.claim, error))
        else:
            run.count(failed_attempt(flight.row, flight.claim, flight.attempts, error, mailbox))
        return None
    copy = SentCopy.OWED if owes_copy(run.provider(mailbox), mailbox) else SentCopy.NONE
    return Accepted(flight.row, result, copy)


def owes_copy(provider: MailProvider, mailbox: Mailbox) -> bool:
    """Whether an email sent through this inbox needs a copy filed in its Sent folder."""
    return not provider.saves_sent_copy and mailbox.server_files_sent is not True


def _committed(run: Pass, mailbox, provider, accepted: Accepted) -> None:
    run.count(SendStatus.SENT)
    announce(accepted.row, SendStatus.SENT)
    if accepted.copy == SentCopy.OWED:
        run.owing.add(mailbox.pk)


def _hand_over(accepted: Accepted | None, row, claim: Claim, mailbox, now, margin: float):
    """Record an accepted send, mark `row` "sending" and take its tokens, in one commit.

    The tokens are those of every window `row` may land in if it does within `margin`
    seconds (`throttle.tokens_for`). Return (the tokens taken, or None when not marked;
    OverLimit or None). The commit comes before any byte of `row` goes to the provider, and
    it is the only one per email sent, but for one handed over in a minute's last seconds,
    which gives back a spare token once answered (`throttle.settle`). Over a limit, `row` is
    queued for the next window and the accepted send is recorded all the same.
    """
    if connection.vendor != "postgresql":
        return _hand_over_orm(accepted, row, claim, mailbox, now, margin)
    try:
        tokens = throttle.tokens_for(mailbox, now, margin, len(row.recipients), row.source)
    except throttle.OverLimit as over:  # a limit of 0
        _commit_alone(accepted)
        return None, _wait_and(row, claim.stamp, over)
    sql, params = _hand_over_sql(accepted, row, claim, tokens, now)
    # One statement in autocommit is its own transaction: a single round trip per email.
    with server_cursor() as cursor:
        cursor.execute(sql, params)
        marked, *counts = cursor.fetchone()
    if not marked:
        return None, None
    try:
        throttle.check_counts(tokens, counts)
    except throttle.OverLimit as over:
        # Rare (once per inbox and window): undo the mark and the tokens of other windows.
        with transaction.atomic():
            throttle.give_back(tokens, counts)
            _wait_and(row, now, over, undo_attempt=True)
        return None, over
    return tokens, None


def _hand_over_orm(accepted, row, claim: Claim, mailbox, now, margin: float):
    # Other databases (SQLite in the embedded setup): the same, in one transaction.
    try:
        with transaction.atomic():
            if accepted is not None:
                record_sent(accepted, now)
            marked = owned(row, claim).update(
                status=SendStatus.SENDING, attempts=F("attempts") + 1, claimed_at=now
            )
            recipients = len(row.recipients)
            tokens = throttle.take(mailbox, now, margin, recipients, row.source) if marked else None
        return tokens, None
    except throttle.OverLimit as over:
        # Everything rolled back: record the accepted send alone, then let the row wait.
        _commit_alone(accepted)
        return None, _wait_and(row, claim.stamp, over)


def _commit_alone(accepted: Accepted | None) -> None:
    if accepted is not None:
        with transaction.atomic():
            record_sent(accepted)


def _wait_and(row, stamp: datetime, over, undo_attempt: bool = False) -> throttle.OverLimit:
    """Queue the row until the next window opens; return `over`."""
    changes = {"attempts": F("attempts") - 1} if undo_attempt else {}
    Outbound.objects.filter(pk=row.pk, claimed_at=stamp, status__in=ACTIVE).update(
        status=SendStatus.QUEUED,
        next_attempt_at=over.retry_at,
        last_error=over.describe(),
        claimed_at=None,
        **changes,
    )
    return over


def _hand_over_sql(accepted, row, claim: Claim, tokens, now) -> tuple[str, list]:
    """The statement of `_hand_over` on PostgreSQL, and its parameters."""
    params = []
    if accepted is not None:
        provider_id, note, kept = sent_fields(accepted.row, accepted.result)
        params += [SendStatus.SENT, now, provider_id, note, accepted.copy, accepted.row.pk]
        params += [SendStatus.RECONCILED, now, kept, accepted.row.message_id]
    params += [SendStatus.SENDING, now, row.pk, claim.stamp, *ACTIVE]
    ctes, counts, token_params = throttle.token_ctes(tokens, only_if="marked")
    return _hand_over_text(accepted is not None, ctes, counts), params + token_params


@functools.cache
def _hand_over_text(records_a_send: bool, tokens: str, counts: str) -> str:
    """Built once per shape (it runs for every email).

    CTEs: `sent` and `stamped` record the previous send; `marked` is the conditional update
    that proves the claim still holds; one per window (`tokens`: `minute0`, `day0`, and near
    a boundary `minute1`, `day1`) takes a token only if it did, its count read by `counts`.
    """
    outbound = connection.ops.quote_name(Outbound._meta.db_table)
    message = connection.ops.quote_name(EmailMessage._meta.db_table)
    ctes = []
    if records_a_send:
        ctes.append(
            f"sent AS (UPDATE {outbound} SET status = %s, sent_at = %s, provider_id = %s, "
            "last_error = %s, claimed_at = NULL, sent_copy = %s WHERE id = %s AND status <> %s "
            "RETURNING id)"
        )
        ctes.append(
            f"stamped AS (UPDATE {message} SET sent_at = %s, "
            "message_id = COALESCE(%s, message_id) WHERE id = %s RETURNING id)"
        )
    statuses = ", ".join(["%s"] * len(ACTIVE))
    ctes.append(
        f"marked AS (UPDATE {outbound} SET status = %s, attempts = attempts + 1, "
        f"claimed_at = %s WHERE id = %s AND claimed_at = %s AND status IN ({statuses}) "
        "RETURNING id)"
    )
    ctes.append(tokens)
    return "WITH " + ", ".join(ctes) + f" SELECT (SELECT count(*) FROM marked), {counts}"
