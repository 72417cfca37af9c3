"""What privacy tells the layers above it (sequences), without importing them.

- `permission_withdrawn`, event `PermissionWithdrawn`: a contact opted out (of all email or of
  a subscription type) or a legal basis of theirs was revoked, so email that was allowed may
  no longer be. Sent once the transaction that recorded it commits; receivers ask
  `checks.can_email` for their own context (an opt-out of one type may not concern them).
"""

from dataclasses import dataclass

from django.dispatch import Signal

from records.signals import send_on_commit

permission_withdrawn = Signal()


@dataclass(frozen=True)
class PermissionWithdrawn:
    contact_id: int
    what: str  # EventKind of the change: opted_out_all, subscription_changed, basis_revoked


def withdrawn_on_commit(contact_id: int, what: str) -> None:
    """Send `permission_withdrawn` after the current transaction commits; a receiver that
    raises is logged and does not undo the opt-out."""
    send_on_commit(permission_withdrawn, __name__, PermissionWithdrawn(contact_id, str(what)))
