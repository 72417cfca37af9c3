"""Transports: how the email of a `SendSource` goes out when it goes out through no one's inbox.

Transactional email is sent through a sending pool of its own (an SMTP relay an admin
configures), never through a user's connected inbox, on a Celery queue of its own. mailboxes
cannot import transactional, so the app registers a `Transport` for its source from its
AppConfig.ready(), as send guards are (guards.py). An `OutgoingEmail` without a `mailbox` goes
through the transport of its source:

- `email_enqueue` asks `refusals(emails)` before writing anything (the add-on is off, the pool
  is not configured, a recipient hard-bounced: a `SendRefused` with those words), writes the
  envelope From the transport gives, and queues the transport's `job` instead of
  `SEND_OUTBOUND`; it tells the transport which rows it wrote (`queued`, in the same
  transaction), so the app above can record that they are queued;
- the inboxes' sending worker (sending.py) never claims such a row: the transport's own worker
  sends it, with no inbox throttle and no copy for a Sent folder.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Transport:
    """What mailboxes needs to know of a sending path that is not an inbox."""

    # The job (mailboxes/jobs.py) queued on commit for each row: it runs on the transport's
    # own Celery queue (settings.CELERY_TASK_ROUTES).
    job: str
    # The envelope From (MAIL FROM) of every email it sends.
    envelope_from: Callable[[], str]
    # Why each email (enqueue.OutgoingEmail, not imported: enqueue.py imports this module) may
    # not be queued now, in words for whoever sent it, "" when it may; one list for a batch,
    # in a constant number of queries.
    refusals: Callable[[list], list[str]]
    # Told the ids of the `Outbound` rows `email_enqueue` wrote for it, inside its transaction.
    queued: Callable[[list[int]], None] | None = None


_transports: dict[str, Transport] = {}


def register(source: str, transport: Transport) -> None:
    """Make `transport` the one of `source` (registering again replaces it: ready() may run
    twice in tests)."""
    _transports[source] = transport


def for_source(source: str) -> Transport:
    """The transport of `source`; ValueError when none is registered (an email without an
    inbox must have one)."""
    try:
        return _transports[source]
    except KeyError:
        raise ValueError(f"No inbox given and no transport registered for {source!r}") from None


def sources() -> list[str]:
    """The sources whose email a transport sends (the inboxes' worker leaves them alone)."""
    return sorted(_transports)
