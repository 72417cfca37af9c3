"""How a claimed row ends or waits, and its history.

The worker (sending.py) and the lookup in Sent (reconcile.py) decide what becomes of a row;
this writes it. A change to a row the worker claimed is a conditional UPDATE on its claim
(`owned`: cancelling in between wins); everything off the plain queued-then-sent path is a
line of the email's history (`record`, `OutboundEvent`); and once an email has ended, the
layers above hear how (`announce`, on commit).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from mailboxes import signals
from mailboxes.constants import MailboxKind, OutboundEventKind, SendStatus, SentCopy
from mailboxes.models import EmailMessage, Outbound, OutboundEvent
from mailboxes.outbox import throttle
from mailboxes.providers.base import ProviderError, SendResult
from mailboxes.sentences import translated

# Minutes to wait before attempt n + 1 after n failed ones; a provider's retry_after, when
# longer, wins.
BACKOFF_MINUTES = (1, 5, 15, 60, 120, 240, 480)
MAX_ATTEMPTS = 8

# An email that has not ended yet, and one waiting to be claimed.
ACTIVE = (SendStatus.QUEUED, SendStatus.SCHEDULED, SendStatus.SENDING, SendStatus.CHECKING)
WAITING = (SendStatus.QUEUED, SendStatus.SCHEDULED)


@dataclass(frozen=True)
class Claim:
    """A row this worker owns: `stamp` is the claimed_at it wrote."""

    id: int
    stamp: datetime
    orphaned: bool  # found in "sending": its worker died
    previous_claim: datetime | None = None  # when the dead worker started
    checking: bool = False  # "checking": its answer was lost; ask the provider first


@dataclass
class Accepted:
    """A send the provider accepted, whose result is committed with a later row's mark."""

    row: Outbound
    result: SendResult
    copy: str = SentCopy.NONE  # whether a copy for the Sent folder is now owed


def owned(row: Outbound, claim: Claim, statuses=ACTIVE):
    return Outbound.objects.filter(pk=row.pk, claimed_at=claim.stamp, status__in=statuses)


def record(row: Outbound, kind: str, detail: str) -> None:
    """Add a line to the email's history (OutboundEvent)."""
    OutboundEvent.objects.create(outbound_id=row.pk, kind=kind, detail=detail)


def change_owned(row, claim: Claim, event: tuple[str, str], **changes) -> bool:
    """Change a row we still own and add `event` (kind, detail) to its history, in one
    transaction; return whether we still owned it."""
    with transaction.atomic():
        done = owned(row, claim).update(**changes)
        if done:
            record(row, *event)
    return bool(done)


def fail(row, claim: Claim, words: str) -> str:
    return _settle(row, claim, SendStatus.FAILED, words, OutboundEventKind.FAILED)


def cancel(row, claim: Claim, words: str) -> str:
    """Cancel a row we still own that a send guard refused (guards.py): nothing is sent."""
    done = change_owned(
        row,
        claim,
        (OutboundEventKind.CANCELLED, words),
        status=SendStatus.CANCELLED,
        last_error=words,
        claimed_at=None,
    )
    return SendStatus.CANCELLED if done else "skipped"


def uncertain(row, claim: Claim, words: str) -> str:
    # attempted_at: when the send that may have gone out started ("It was sent" dates by it).
    attempted_at = row.attempted_at or claim.previous_claim
    return _settle(
        row, claim, SendStatus.UNCERTAIN, words, OutboundEventKind.UNCERTAIN, attempted_at
    )


def _settle(row, claim: Claim, status: str, words: str, kind: str, attempted_at=None) -> str:
    """End the row we still own in `status` with `words`, in its history too; tell the
    layers above."""
    changes = {"attempted_at": attempted_at} if attempted_at else {}
    done = change_owned(
        row, claim, (kind, words), status=status, last_error=words, claimed_at=None, **changes
    )
    if done:
        announce(row, status, words)
    return status if done else "skipped"


_OUTCOME_SIGNALS = {
    SendStatus.SENT: signals.email_sent,
    SendStatus.RECONCILED: signals.email_sent,
    SendStatus.FAILED: signals.email_failed,
    SendStatus.UNCERTAIN: signals.email_uncertain,
}


def announce(row: Outbound, status: str, detail: str = "") -> None:
    """Tell the layers above how an email ended (email_sent / _failed / _uncertain), once
    the change is committed."""
    signal = _OUTCOME_SIGNALS[status]
    if signal.has_listeners():
        event = signals.SendOutcome(
            outbound_id=row.pk,
            message_id=row.message_id,
            status=status,
            source=row.source,
            source_id=row.source_id,
            contact_ids=tuple(row.contact_ids),
            detail=detail,
            # The sending pass loads each row's inbox with it (sending._load).
            from_team_inbox=row.mailbox is not None and row.mailbox.kind == MailboxKind.TEAM,
        )
        signals.send_on_commit(signal, __name__, [event])


def wait(row, claim: Claim, over: throttle.OverLimit) -> str:
    done = owned(row, claim).update(
        status=SendStatus.QUEUED,
        next_attempt_at=over.retry_at,
        last_error=over.describe(),
        claimed_at=None,
    )
    return "throttled" if done else "skipped"


def backoff(attempts: int, retry_after: float | None = None) -> timedelta:
    """How long to wait after `attempts` failed attempts (at least the provider's hint)."""
    minutes = BACKOFF_MINUTES[min(max(attempts, 1), len(BACKOFF_MINUTES)) - 1]
    return max(timedelta(minutes=minutes), timedelta(seconds=retry_after or 0))


def retry_later(row, claim: Claim, attempts: int, error: ProviderError, words: str) -> str:
    retry_at = timezone.now() + backoff(attempts, error.retry_after)
    when = timezone.localtime(retry_at).strftime("%H:%M")
    done = change_owned(
        row,
        claim,
        (
            OutboundEventKind.RETRY,
            _("%(words)s Trying again at %(time)s.") % {"words": words, "time": when},
        ),
        status=SendStatus.QUEUED,
        next_attempt_at=retry_at,
        last_error=words,
        claimed_at=None,
    )
    return "retry" if done else "skipped"


def failed_attempt(row, claim: Claim, attempts: int, error: ProviderError, mailbox) -> str:
    message = translated(error.message)  # the provider's words, in the account's language
    if error.stage == "auth" and error.permanent:
        mailbox.mark_needs_reconnect(message)
    if error.permanent:
        return fail(row, claim, message)
    if attempts >= MAX_ATTEMPTS:
        words = _("%(error)s Gave up after %(n)s attempts.") % {"error": message, "n": attempts}
        return fail(row, claim, words)
    return retry_later(row, claim, attempts, error, message)


def sent_fields(row, result: SendResult) -> tuple[str, str, str | None]:
    """Return (provider id, note for the rep, Message-ID the provider kept if it changed it)."""
    note = ""
    if result.refused:
        refused = "; ".join(
            f"{rcpt} ({code} {text})" for rcpt, (code, text) in result.refused.items()
        )
        note = _("Sent, but the server refused some recipients: %(list)s") % {"list": refused}
    kept = getattr(result, "message_id", None)
    # Gmail may replace a client-set Message-ID: replies will quote Gmail's.
    kept = kept if kept and kept != row.message.message_id else None
    return (result.provider_id or "")[:255], note, kept


def record_sent(accepted: Accepted, now: datetime | None = None) -> None:
    """Record an accepted send, and the Sent copy it owes; call inside the caller's
    transaction."""
    row = accepted.row
    now = now or timezone.now()
    provider_id, note, kept = sent_fields(row, accepted.result)
    # Not conditional on the claim: the provider accepted it, whatever happened meanwhile.
    Outbound.objects.filter(pk=row.pk).exclude(status=SendStatus.RECONCILED).update(
        status=SendStatus.SENT,
        sent_at=now,
        provider_id=provider_id,
        last_error=note,
        claimed_at=None,
        sent_copy=accepted.copy,
    )
    changes = {"sent_at": now, **({"message_id": kept} if kept else {})}
    EmailMessage.objects.filter(pk=row.message_id).update(**changes)
