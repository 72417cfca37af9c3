"""What the sending pool tells the rest of transactional (events/) without importing it:
sent after the change commits (records.signals.send_on_commit), but for `email_queued`.

- `email_queued`: `email_enqueue` wrote transactional rows (the transport's `queued` hook): one
  `Queued` event for the batch, sent inside the transaction that writes them, so their first
  history line commits with them (one commit, which the SMTP API's 250 waits for, not two).
- `email_deferred`: a row was deferred (the relay's 4xx, the relay down, its domain held back),
  with the reason and the next try. Sent at each deferral; a receiver keeps the first.
- `email_cancelled`: an admin cancelled deferred rows (queue.py), with their words.
"""

from dataclasses import dataclass
from datetime import datetime

from django.dispatch import Signal

email_queued = Signal()
email_deferred = Signal()
email_cancelled = Signal()


@dataclass(frozen=True)
class PoolChange:
    outbound_id: int
    at: datetime
    reason: str = ""
    next_attempt_at: datetime | None = None


@dataclass(frozen=True)
class Queued:
    outbound_ids: tuple[int, ...]
    at: datetime
