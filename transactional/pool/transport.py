"""The pool as mailboxes' transport for transactional email (mailboxes/outbox/transports.py):
what `email_enqueue` asks before queuing such an email, its envelope From and its job."""

from __future__ import annotations

import logging

from django.utils import timezone
from django.utils.translation import gettext as _

from mailboxes import jobs
from mailboxes.constants import SendSource
from mailboxes.models import BouncedAddress
from mailboxes.outbox import transports
from transactional.pool import signals
from transactional.pool.models import SendingPool

log = logging.getLogger(__name__)


def bounced(addresses) -> list[BouncedAddress]:
    """The hard-bounced addresses among `addresses` (never sent to: the single-send API
    answers PREVIOUSLY_BOUNCED for them)."""
    wanted = {a.strip().lower() for a in addresses}
    return list(BouncedAddress.objects.filter(address__in=wanted).order_by("address"))


def unavailable(pool: SendingPool) -> str:
    """Why the pool sends nothing at all now, or ""."""
    if not pool.enabled:
        return _("Transactional email is off: an admin turns it on under Settings › Add-on.")
    if not pool.configured:
        return _(
            "The sending pool is not set up: an admin gives its SMTP relay and From address "
            "under Settings › Sending pool."
        )
    return ""


def refusals(emails) -> list[str]:
    """Why each email may not be queued ("" when it may): two queries for a batch."""
    words = unavailable(SendingPool.load())
    if words:
        return [words] * len(emails)
    gone = {b.address for b in bounced(a for e in emails for a in (*e.to, *e.cc, *e.bcc))}
    answers = []
    for email in emails:
        mine = sorted({a.strip().lower() for a in (*email.to, *email.cc, *email.bcc)} & gone)
        answers.append(
            _("Not sent: %(addresses)s bounced hard before, and is never sent to again.")
            % {"addresses": ", ".join(mine)}
            if mine
            else ""
        )
    return answers


def envelope_from() -> str:
    return SendingPool.load().from_address


def queued(outbound_ids: list[int]) -> None:
    """`email_enqueue` is writing these rows: tell transactional (events/) in its transaction
    (signals.py says why); a receiver's failure is logged and undoes nothing (each receiver
    writes in a savepoint of its own)."""
    event = signals.Queued(tuple(outbound_ids), timezone.now())
    for receiver, result in signals.email_queued.send_robust(sender=__name__, event=event):
        if isinstance(result, Exception):
            log.error(
                "receiver %r of email_queued failed",
                receiver,
                exc_info=(type(result), result, result.__traceback__),
            )


def register() -> None:
    transports.register(
        SendSource.TRANSACTIONAL,
        transports.Transport(
            job=jobs.SEND_TRANSACTIONAL,
            envelope_from=envelope_from,
            refusals=refusals,
            queued=queued,
        ),
    )
