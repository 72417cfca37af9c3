"""Send transactional email through the pool's relay, once, and say where each one stands.

Rows are the outbox's own (`Outbound`, source "transactional", queued by `email_enqueue`
through the pool's transport), but the inboxes' worker never claims them: this one does, on
the "transactional" queue, so they never wait behind sequence or one-to-one mail. There is no
inbox throttle (the pool has its own optional per-minute limit) and no Sent folder.

    queued / scheduled ─> sending ─> sent
          ^   │             ├──────> failed     (5xx: the relay's words; a bounced address;
          │   │             │                    too many tries)
          │   │             ├──────> deferred ─> (due again at its next try) sending ...
          │   │             └──────> uncertain  (the answer was lost, or the worker died
          │   │                                  mid-send: it may have gone out; an admin
          │   └─> deferred (held: its domain is deferred)        decides, never resent blind)
          └──── deferred <── an admin's "Retry now";  deferred ──> cancelled (an admin)

Deferral is per destination domain (`DomainDeferral`): a 4xx for a message defers its
recipients' domains with backoff, every other message to such a domain waits until then
without being offered to the relay, and messages to other domains go on. A delivery to a
domain ends its deferral. A relay that cannot be reached or refuses the login defers the
message that found out and the rest of the pass's rows: no destination is to blame.

Claiming is the outbox's: SELECT ... FOR UPDATE SKIP LOCKED, a `claimed_at` stamp, and every
change a conditional UPDATE on it, so an admin's cancel between claim and send wins.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.cache import cache
from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from mailboxes.constants import OutboundEventKind, SendSource, SendStatus
from mailboxes.models import BouncedAddress, EmailMessage, Mailbox, Outbound
from mailboxes.outbox.outcomes import announce, record
from mailboxes.outbox.sending import raw_mime
from mailboxes.providers.base import MailProvider, ProviderError, SendResult
from mailboxes.sentences import translated
from records.bulk import update_rows
from records.signals import send_on_commit
from transactional.pool import relay, signals
from transactional.pool.models import DomainDeferral, SendingPool
from transactional.pool.transport import bounced, unavailable

log = logging.getLogger(__name__)

CLAIM_LEASE = timedelta(minutes=5)
SEND_LEASE = timedelta(minutes=10)
# Minutes a domain waits after its n-th deferral in a row.
DOMAIN_BACKOFF_MINUTES = (1, 5, 15, 30, 60, 120, 240)
# Also how long mail waits while the add-on is off or the relay cannot be reached.
RELAY_BACKOFF = timedelta(minutes=5)
MAX_ATTEMPTS = 12
BATCH = 100
# Sent emails recorded together (see _Pass).
FLUSH_EVERY = 20
PASS_SECONDS = 25.0
WAITING = (SendStatus.QUEUED, SendStatus.SCHEDULED, SendStatus.DEFERRED)
# Where a failure says the relay, not the destination, is the trouble.
RELAY_STAGES = frozenset({"dns", "tcp", "tls", "auth", "protocol", "blocked"})

UNCERTAIN_WORDS = gettext_lazy(
    "The worker sending this email stopped before the relay's answer was recorded: it may or "
    "may not have gone out. Ask the recipient, then send it again or leave it."
)


@dataclass(frozen=True)
class Claim:
    id: int
    stamp: datetime
    orphaned: bool  # found in "sending": its worker died


def _due(now: datetime) -> Q:
    waiting = Q(status__in=WAITING, next_attempt_at__lte=now) & (
        Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - CLAIM_LEASE)
    )
    orphaned = Q(status=SendStatus.SENDING) & (
        Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - SEND_LEASE)
    )
    return Q(source=SendSource.TRANSACTIONAL) & (waiting | orphaned)


def _claim(where: Q, limit: int) -> list[Claim]:
    now = timezone.now()
    with transaction.atomic():
        rows = list(
            # FOR NO KEY UPDATE: the claim changes no key, and must not skip a row whose new
            # history rows (their foreign keys' KEY SHARE locks) are being written meanwhile:
            # a job that ran then found its rows "taken" and left them for the periodic pass.
            Outbound.objects.select_for_update(skip_locked=True, no_key=True)
            .filter(where)
            .order_by("next_attempt_at", "pk")
            .values_list("pk", "status")[:limit]
        )
        if rows:
            Outbound.objects.filter(pk__in=[pk for pk, _ in rows]).update(claimed_at=now)
    return [Claim(pk, now, status == SendStatus.SENDING) for pk, status in rows]


def deliver(*outbound_ids: int) -> str | None:
    """Send these emails now (a batch the enqueue service queued together: one claim, one
    relay session) if they are due and nobody holds them; return the first one's outcome, or
    None when none was due."""
    claims = _claim(Q(pk__in=outbound_ids) & _due(timezone.now()), len(outbound_ids))
    if not claims:
        return None
    with _Pass() as run:
        run.send(claims)
    return next(iter(run.outcomes), None)


def deliver_due(limit: int = BATCH, seconds: float = PASS_SECONDS) -> Counter:
    """Claim and send due email in batches until none is left or `seconds` have passed."""
    deadline = time.monotonic() + seconds
    with _Pass() as run:
        while time.monotonic() < deadline:
            claims = _claim(_due(timezone.now()), limit)
            if not claims:
                break
            run.send(claims)
    return run.outcomes


def inboxes_read(addresses) -> set[str]:
    """Those of `addresses` (lowercased) that are connected inboxes, whose mail the CRM reads."""
    wanted = {a.strip().lower() for a in addresses if a}
    return set(
        Mailbox.objects.annotate(address=Lower("email"))
        .filter(address__in=wanted)
        .values_list("address", flat=True)
    )


def domains_of(addresses) -> set[str]:
    return {a.rpartition("@")[2].strip().lower() for a in addresses}


class _Session(threading.local):
    """The worker's relay session, kept between passes (a queue worker's next job, a loop's
    next pass) while the pool's settings stay the same: a connection and login per message
    cost more than the message. The adapter checks an idle session with NOOP before use."""

    key: tuple | None = None
    provider: MailProvider | None = None

    def get(self, pool: SendingPool) -> tuple[MailProvider, bool]:
        """The session for the pool's relay, and whether it is new."""
        key = (pool.host, pool.port, pool.security, pool.username, pool.secret.get("password"))
        if self.provider is not None and self.key != key:
            self.drop()
        if self.provider is not None:
            return self.provider, False
        self.provider, self.key = relay.open_relay(pool), key
        return self.provider, True

    def send(self, pool: SendingPool, message) -> SendResult:
        provider, new = self.get(pool)
        try:
            return provider.send(message)
        except ProviderError as error:
            if new or error.maybe_sent or error.stage != "tcp":
                raise
        # A kept session the relay had closed, found before DATA (nothing went out): once
        # more on a new one.
        self.drop()
        return self.get(pool)[0].send(message)

    def drop(self) -> None:
        provider, self.provider, self.key = self.provider, None, None
        if provider is not None:
            try:
                provider.close()
            except Exception:  # a dead session must not hide the pass's result
                log.warning("closing the relay session failed", exc_info=True)


_session = _Session()


def close_relay_session() -> None:
    """Quit this thread's relay session (a worker shutting down, a test's end)."""
    _session.drop()


class _Pass:
    """One worker's pass: the pool read once, the worker's relay session for every message.

    The rows of a batch are looked up together (hard bounces, deferred domains), each is
    marked "sending" on its own just before it goes, and the sent ones are recorded together
    every FLUSH_EVERY sends (and at the end of the batch): a worker that dies in between leaves
    them "sending", found later as uncertain, as one that died mid-send always did."""

    def __init__(self) -> None:
        self.pool = SendingPool.load()
        self.outcomes: Counter = Counter()
        # Set once the relay failed: the pass's other rows wait with these words.
        self.relay_down: str = ""
        self.gone: dict[str, BouncedAddress] = {}
        self.held: dict[str, DomainDeferral] = {}
        # Envelope From addresses the CRM reads as inboxes: only there are DSNs asked for.
        self.read: set[str] = set()
        self.sent: list[tuple[Outbound, SendResult, set[str]]] = []

    def __enter__(self) -> _Pass:
        return self

    def __exit__(self, exc_type, *exc_info) -> None:
        if exc_type is not None or self.relay_down:
            _session.drop()

    def send(self, claims: list[Claim]) -> None:
        by_id = {c.id: c for c in claims}
        rows = list(
            Outbound.objects.filter(pk__in=by_id)
            .select_related("message")
            .defer("message__text_body", "message__html_body", "message__raw")
            .order_by("next_attempt_at", "pk")
        )
        raws = raw_mime([row.message_id for row in rows])
        self.gone = {b.address: b for b in bounced(a for row in rows for a in row.recipients)}
        domains = set().union(*(domains_of(row.recipients) for row in rows))
        self.held = {
            d.domain: d
            for d in DomainDeferral.objects.filter(domain__in=domains, until__gt=timezone.now())
        }
        self.read = inboxes_read({row.envelope_from for row in rows})
        try:
            for row in rows:
                try:
                    outcome = self.one(row, by_id[row.pk], raws.get(row.message_id))
                except Exception:
                    # The row keeps its claim: a later pass takes it after the lease (from
                    # "sending", as uncertain: it may have gone out).
                    log.exception("sending transactional outbound %s failed unexpectedly", row.pk)
                    outcome = "error"
                self.outcomes[outcome] += 1
                if len(self.sent) >= FLUSH_EVERY:
                    self.flush()
        finally:
            self.flush()

    def flush(self) -> None:
        sent, self.sent = self.sent, []
        if sent:
            _sent(sent)

    def one(self, row: Outbound, claim: Claim, raw: bytes | None) -> str:
        now = timezone.now()
        if claim.orphaned:
            return _settle(row, claim, SendStatus.UNCERTAIN, str(UNCERTAIN_WORDS))
        words = self.relay_down or unavailable(self.pool)
        if words:
            return _wait(row, claim, SendStatus.DEFERRED, now + RELAY_BACKOFF, words)
        gone = [
            self.gone[a]
            for a in sorted({a.strip().lower() for a in row.recipients} & self.gone.keys())
        ]
        if gone:
            words = _("Not sent: %(addresses)s bounced hard before.") % {
                "addresses": ", ".join(b.address for b in gone)
            }
            return _settle(row, claim, SendStatus.FAILED, words)
        if not raw:
            return _settle(row, claim, SendStatus.FAILED, _("The email's content is missing."))
        domains = domains_of(row.recipients)
        held = next(
            (self.held[d] for d in sorted(domains & self.held.keys()) if self.held[d].until > now),
            None,
        )
        if held is not None:
            words = _("Held back: the relay deferred mail to %(domain)s (%(reason)s).") % {
                "domain": held.domain,
                "reason": held.reason,
            }
            return _wait(row, claim, SendStatus.DEFERRED, held.until, words)
        over = self.over_minute_limit(now)
        if over is not None:
            words = _("Waiting for the pool's limit of %(n)s emails a minute.") % {
                "n": self.pool.minute_limit
            }
            return _wait(row, claim, SendStatus.QUEUED, over, words)
        try:
            # Signed before the mark: a key that cannot sign leaves nothing "sending".
            message = relay.outgoing(
                self.pool,
                row.envelope_from,
                row.recipients,
                raw,
                row.message.message_id,
                ask_reports=row.envelope_from.lower() in self.read,
            )
        except Exception as exc:
            log.exception("DKIM-signing transactional outbound %s failed", row.pk)
            words = _("Could not DKIM-sign it (%(error)s): make a new key under Sending pool.")
            return _wait(
                row, claim, SendStatus.DEFERRED, now + RELAY_BACKOFF, words % {"error": exc}
            )
        marked = _owned(row, claim, WAITING).update(
            status=SendStatus.SENDING, attempts=F("attempts") + 1
        )
        if not marked:
            return "skipped"  # cancelled by an admin meanwhile, or taken over
        attempts = row.attempts + 1
        try:
            result = _session.send(self.pool, message)
        except ProviderError as error:
            if error.stage in RELAY_STAGES or error.maybe_sent:
                _session.drop()  # a session in doubt is not used again
            return self.failed(row, claim, attempts, domains, error)
        self.sent.append((row, result, domains))
        for domain in domains:
            self.held.pop(domain, None)
        return SendStatus.SENT

    def failed(self, row, claim: Claim, attempts: int, domains, error: ProviderError) -> str:
        message = translated(error.message)  # the relay's words, in the account's language
        if error.maybe_sent:
            words = _("%(error)s Not sent again on its own: it may have gone out.") % {
                "error": message
            }
            return _settle(row, claim, SendStatus.UNCERTAIN, words, SendStatus.SENDING)
        if error.stage in RELAY_STAGES:
            self.relay_down = _("The relay could not take email: %(error)s") % {"error": message}
            retry_at = timezone.now() + RELAY_BACKOFF
            return _wait(row, claim, SendStatus.DEFERRED, retry_at, self.relay_down, retry=True)
        if error.permanent:
            return _settle(row, claim, SendStatus.FAILED, message, SendStatus.SENDING)
        if attempts >= MAX_ATTEMPTS:
            words = _("%(error)s Gave up after %(n)s tries.") % {
                "error": message,
                "n": attempts,
            }
            return _settle(row, claim, SendStatus.FAILED, words, SendStatus.SENDING)
        until = defer_domains(domains, message)
        for domain in domains:
            self.held[domain] = DomainDeferral(domain=domain, until=until, reason=message)
        return _wait(row, claim, SendStatus.DEFERRED, until, message, retry=True)

    def over_minute_limit(self, now: datetime) -> datetime | None:
        """Take a token of the pool's minute window; when none is left, when the next opens.

        Counted in the cache (Redis in production: one count for every worker)."""
        limit = self.pool.minute_limit
        if not limit:
            return None
        start = now.replace(second=0, microsecond=0)
        key = f"transactional-pool-minute-{start:%Y%m%d%H%M}"
        cache.add(key, 0, 120)
        try:
            used = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, 120)
            used = 1
        return start + timedelta(minutes=1) if used > limit else None


def defer_domains(domains, reason: str) -> datetime:
    """Record that the relay deferred mail to `domains`; return when they may be tried again
    (the latest of them): each domain's backoff grows with its deferrals in a row."""
    now = timezone.now()
    latest = now
    with transaction.atomic():
        known = {
            d.domain: d
            for d in DomainDeferral.objects.select_for_update().filter(domain__in=domains)
        }
        for domain in sorted(domains):
            failures = known[domain].failures + 1 if domain in known else 1
            step = DOMAIN_BACKOFF_MINUTES[min(failures, len(DOMAIN_BACKOFF_MINUTES)) - 1]
            until = now + timedelta(minutes=step)
            DomainDeferral.objects.update_or_create(
                domain=domain,
                defaults={"until": until, "failures": failures, "reason": reason[:2000]},
            )
            latest = max(latest, until)
    return latest


def _clock(moment: datetime) -> str:
    return timezone.localtime(moment).strftime("%H:%M")


def _owned(row: Outbound, claim: Claim, statuses):
    return Outbound.objects.filter(pk=row.pk, claimed_at=claim.stamp, status__in=statuses)


def _wait(row, claim: Claim, status: str, until: datetime, words: str, retry=False) -> str:
    """Queue or defer a row we own until `until`, saying why (the page shows the next try
    beside it); a try the relay turned down is a line of its history, with the next try."""
    with transaction.atomic():
        done = _owned(row, claim, (*WAITING, SendStatus.SENDING)).update(
            status=status, next_attempt_at=until, last_error=words, claimed_at=None
        )
        if done and retry:
            next_try = _("Next try at %(time)s.") % {"time": _clock(until)}
            record(row, OutboundEventKind.RETRY, f"{words} {next_try}")
        if done and status == SendStatus.DEFERRED:
            change = signals.PoolChange(row.pk, timezone.now(), words, until)
            send_on_commit(signals.email_deferred, __name__, change)
    return status if done else "skipped"


_EVENTS = {
    SendStatus.FAILED: OutboundEventKind.FAILED,
    SendStatus.UNCERTAIN: OutboundEventKind.UNCERTAIN,
}


def _settle(row, claim: Claim, status: str, words: str, *statuses) -> str:
    """End a row we own in `status` with `words`, in its history too; tell the layers above."""
    with transaction.atomic():
        done = _owned(row, claim, statuses or (*WAITING, SendStatus.SENDING)).update(
            status=status, last_error=words, claimed_at=None
        )
        if done:
            record(row, _EVENTS[status], words)
            announce(row, status, words)
    return status if done else "skipped"


def _sent(sent: list[tuple[Outbound, SendResult, set[str]]]) -> None:
    """Record emails the relay accepted, in one transaction; tell the layers above."""
    now = timezone.now()
    for row, result, _domains in sent:
        row.status, row.sent_at, row.claimed_at = SendStatus.SENT, now, None
        row.provider_id = (result.provider_id or "")[:255]
        row.last_error = ""
        if result.refused:
            row.last_error = _("Sent, but the relay refused some recipients: %(list)s") % {
                "list": "; ".join(
                    f"{r} ({code} {text})" for r, (code, text) in result.refused.items()
                )
            }
    rows = [row for row, _result, _domains in sent]
    with transaction.atomic():
        # Not conditional on the claim: the relay accepted them, whatever happened meanwhile.
        update_rows(rows, ["status", "sent_at", "provider_id", "last_error", "claimed_at"])
        EmailMessage.objects.filter(pk__in=[row.message_id for row in rows]).update(sent_at=now)
        # The relay takes mail for these domains again.
        domains = set().union(*(d for _row, _result, d in sent))
        DomainDeferral.objects.filter(domain__in=domains).delete()
        for row in rows:
            announce(row, SendStatus.SENT)
