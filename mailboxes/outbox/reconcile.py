"""Step 1 of an attempt (sending.py): a row that may already have gone out is looked up in
the inbox's Sent folder, by Message-ID, before it is sent again.

Found: it went out ("reconciled"), nothing is sent. Not found: sent again only where that
proves it did not go out (`absence_proves`); elsewhere "uncertain", for the rep. A send whose
answer was lost is "checking" at once (`unconfirmed`), and looked up after CHECK_DELAY.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from mailboxes.constants import OutboundEventKind, SendStatus
from mailboxes.models import EmailMessage, Mailbox
from mailboxes.outbox.outcomes import (
    Claim,
    announce,
    backoff,
    change_owned,
    fail,
    owned,
    record,
    retry_later,
    uncertain,
)
from mailboxes.providers.base import MailProvider, ProviderError
from mailboxes.sentences import translated

# How long after a lost answer the provider is asked whether the email went out: Graph files
# sent mail in Sent Items a few seconds after accepting it, not at once.
CHECK_DELAY = timedelta(minutes=1)

# The words an email's history and its last error keep, in the language of the account
# (lazy: translated when written, by str()).
UNCERTAIN_WORDS = gettext_lazy(
    "The worker sending this email stopped before the server's answer was recorded, and no "
    "copy is in the Sent folder: it may or may not have gone out. Check with the recipient, "
    "then send it again or mark it as sent."
)
LOST_ANSWER_WORDS = gettext_lazy(
    "The server's answer was lost, and no copy is in the Sent folder; this server does not "
    "file what it sends there, so that proves nothing: it may or may not have gone out. Check "
    "with the recipient, then send it again or mark it as sent."
)
FOUND_WORDS = gettext_lazy("Found in the Sent folder: it went out.")
ABSENT_WORDS = gettext_lazy(
    "Not in the Sent folder, where this inbox's server files everything it sends: it did not "
    "go out. Sending it again."
)


def look_in_sent(row, claim: Claim, run, mailbox, provider) -> str | None:
    """Before a row is sent again, find it in Sent; return the outcome, or None to send.

    Found: it went out ("reconciled"). Not found after a definite refusal (a retry): send.
    Not found when it may have gone out (its worker died, or its answer was lost): send only
    where the provider files everything it sends (`absence_proves`); elsewhere "uncertain",
    for the rep. The email's history records what the lookup said. `run` is the worker's
    pass (sending.Pass), which knows the inbox's Sent folder.
    """
    message_id = row.message.message_id
    try:
        folder = run.sent_folder(mailbox)
        ref = provider.find_by_message_id(folder, message_id) if folder else None
    except ProviderError as error:
        return _lookup_failed(row, claim, error, provider)
    may_have_gone = claim.orphaned or claim.checking
    if ref is not None:
        sent_at = row.attempted_at or claim.previous_claim or timezone.now()
        with transaction.atomic():
            done = owned(row, claim).update(
                status=SendStatus.RECONCILED,
                provider_id=str(ref)[:255],
                sent_at=sent_at,
                last_error="",
                claimed_at=None,
            )
            if done:
                EmailMessage.objects.filter(pk=row.message_id, sent_at__isnull=True).update(
                    sent_at=sent_at
                )
                record(row, OutboundEventKind.CHECKED, str(FOUND_WORDS))
        if done:
            announce(row, SendStatus.RECONCILED)
        return SendStatus.RECONCILED if done else "skipped"
    if not may_have_gone:
        return None
    if absence_proves(provider, mailbox):
        record(row, OutboundEventKind.CHECKED, str(ABSENT_WORDS))
        return None
    words = str(UNCERTAIN_WORDS if claim.orphaned else LOST_ANSWER_WORDS)
    return uncertain(row, claim, words)


def _lookup_failed(row, claim: Claim, error: ProviderError, provider) -> str | None:
    words = _("Could not check the Sent folder before sending again: %(error)s") % {
        "error": translated(error.message)
    }
    if not (claim.orphaned or claim.checking):
        if not provider.saves_sent_copy:
            return None  # a retry after a definite refusal: the lookup was only advisory
        if error.permanent:
            return fail(row, claim, words)
        return retry_later(row, claim, row.attempts, error, words)
    if error.permanent:
        return uncertain(row, claim, words)
    if claim.checking:
        done = owned(row, claim).update(
            next_attempt_at=timezone.now() + backoff(row.attempts, error.retry_after),
            last_error=words,
            claimed_at=None,
        )
        return "deferred" if done else "skipped"
    # Stay "sending" with a fresh lease: the check runs again once it expires.
    owned(row, claim).update(status=SendStatus.SENDING, last_error=words)
    return "deferred"


def unconfirmed(row, claim: Claim, error: ProviderError) -> str:
    """A send whose answer was lost: "checking" at once, never retried blind. A pass after
    CHECK_DELAY asks the provider whether it went out (`look_in_sent`)."""
    check_at = timezone.now() + CHECK_DELAY
    message = translated(error.message)
    words = _("%(error)s Checking the Sent folder before anything else.") % {"error": message}
    done = change_owned(
        row,
        claim,
        (OutboundEventKind.UNCERTAIN, message),
        status=SendStatus.CHECKING,
        next_attempt_at=check_at,
        attempted_at=claim.stamp,
        last_error=words,
        claimed_at=None,
    )
    return SendStatus.CHECKING if done else "skipped"


def absence_proves(provider: MailProvider, mailbox: Mailbox) -> bool:
    """Whether "not in the Sent folder" proves that a send did not go out: only where the
    provider files everything it sends there itself."""
    return provider.saves_sent_copy or mailbox.server_files_sent is True
