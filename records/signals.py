"""What records tells the apps built on it, without importing them.

- `task_completed`, event `TaskCompleted`: a task was marked completed (`Activity.complete`,
  the one place that completes a task). Sent once the transaction that recorded it commits,
  with `send_robust`: a receiver that raises is logged and cannot undo the completion.
  Sequences resumes an enrollment waiting on the task.
- `record_changed`, event `RecordChanged`: a user saved edits of a record's properties (the
  record form, `views/forms_for.save_record_form`, the one place records saves them), with
  the properties that changed; not sent for a save that changed nothing. Sent on commit.
  The conversations inbox sends it too when its pane sets a ticket's priority.
  Sequences' automation rules enroll or unenroll the contact. A contact created through the
  form sends it too, each property it was given a value as changed from None (a property
  "changes to" a value when a contact is created with it, as in HubSpot).
- `meeting_booked`, event `MeetingBooked`: a user logged a meeting with contacts that was not
  canceled (`services.meeting_log`). Sent on commit. Sequences ends the attendees'
  enrollments in sequences that say "unenroll when a meeting is booked".
- `list_members_added`, event `ListMembersAdded`: contacts were added to a saved list
  (`lists/services.members_add`, the one place that adds them), with only those not in it
  before; not sent when every one was there already. Sent on commit. Sequences' automation
  rules on "added to list" enroll or unenroll them.
"""

import logging
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.dispatch import Signal

log = logging.getLogger(__name__)

task_completed = Signal()
record_changed = Signal()
meeting_booked = Signal()
list_members_added = Signal()


@dataclass(frozen=True)
class TaskCompleted:
    activity_id: int
    completed_at: datetime


@dataclass(frozen=True)
class RecordChanged:
    record_id: int
    kind: str  # RecordKind
    # Property name ("lifecycle_stage", "email", a custom property's key) -> (old, new).
    changed: dict[str, tuple]


@dataclass(frozen=True)
class MeetingBooked:
    activity_id: int
    contact_ids: tuple[int, ...]
    starts_at: datetime


@dataclass(frozen=True)
class ListMembersAdded:
    list_id: int
    contact_ids: tuple[int, ...]  # newly added, in the order given
    added_by_id: int | None


def send_on_commit(signal: Signal, sender: str, *events) -> None:
    """Send `signal` once per event after the current transaction commits (at once outside
    one), with `send_robust`: what a receiver raised is logged and undoes nothing. The one way
    records and the apps built on it tell the layers above them."""
    if not events or not signal.has_listeners():
        return

    def send() -> None:
        for event in events:
            for receiver, result in signal.send_robust(sender=sender, event=event):
                if isinstance(result, Exception):
                    log.error(
                        "receiver %r of %s failed",
                        receiver,
                        type(event).__name__,
                        exc_info=(type(result), result, result.__traceback__),
                    )

    transaction.on_commit(send)
