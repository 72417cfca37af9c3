"""What privacy tells the layers above it (sequences), without importing them.

- `permission_withdrawn`, event `PermissionWithdrawn`: a contact opted out (of all email or of
  a subscription type) or a legal basis of theirs was revoked, so email that was allowed may
  no longer be. Sent once the transaction that recorded it commits; receivers ask
  `checks.can_email` for their own context (an opt-out of one type may not concern them).
"""

import logging
from dataclasses import dataclass

from django.db import transaction
from django.dispatch import Signal

log = logging.getLogger(__name__)

permission_withdrawn = Signal()


@dataclass(frozen=True)
class PermissionWithdrawn:
    contact_id: int
    what: str  # EventKind of the change: opted_out_all, subscription_changed, basis_revoked


def withdrawn_on_commit(contact_id: int, what: str) -> None:
    """Send `permission_withdrawn` after the current transaction commits; a receiver that
    raises is logged and does not undo the opt-out."""
    if not permission_withdrawn.has_listeners():
        return
    event = PermissionWithdrawn(contact_id, str(what))

    def send():
        for receiver, result in permission_withdrawn.send_robust(sender=__name__, event=event):
            if isinstance(result, Exception):
                log.error(
                    "receiver %r of permission_withdrawn failed",
                    receiver,
                    exc_info=(type(result), result, result.__traceback__),
                )

    transaction.on_commit(send)
