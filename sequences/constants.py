"""Choices of sequences: step kinds, enrollment states and why an enrollment ended."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from mailboxes.constants import SendSource
from mailboxes.outbox.throttle import SOURCE_MINUTE_LIMITS

# At most this many sequence emails a minute leave one inbox (SEQ-6), counted across every
# worker and machine, beside the inbox's own limits: the outbox's throttle enforces it.
EMAILS_PER_MINUTE_PER_INBOX = SOURCE_MINUTE_LIMITS[SendSource.SEQUENCE]
# Contacts enrolled at once (SEQ-3).
BULK_LIMIT = 50
# The longest delay a step may wait, in days: a longer one is a mistake, not a cadence.
MAX_DELAY_DAYS = 365


class StepKind(models.TextChoices):
    AUTO_EMAIL = "auto_email", _("Automated email")
    MANUAL_EMAIL = "manual_email", _("Manual email task")
    CALL = "call", _("Call task")
    TASK = "task", _("Task")

    @classmethod
    def tasks(cls) -> tuple[str, ...]:
        return (cls.MANUAL_EMAIL, cls.CALL, cls.TASK)


class EnrollmentStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    PAUSED = "paused", _("Paused")
    FINISHED = "finished", _("Finished")
    ENDED = "ended", _("Unenrolled")

    @classmethod
    def live(cls) -> tuple[str, ...]:
        """A contact in one of these is "already in a sequence"."""
        return (cls.ACTIVE, cls.PAUSED)


class EndReason(models.TextChoices):
    FINISHED = "finished", _("Finished every step")
    REPLIED = "replied", _("Replied")
    COMPANY_REPLIED = "company_replied", _("A colleague at the same company replied")
    BOUNCED = "bounced", _("Bounced")
    UNSUBSCRIBED = "unsubscribed", _("Unsubscribed or no longer may be emailed")
    MEETING = "meeting", _("Booked a meeting")
    MANUAL = "manual", _("Unenrolled by a user")
    AUTOMATION = "automation", _("Unenrolled by an automation rule")
    INBOX = "inbox", _("The From inbox was disconnected")


class EventKind(models.TextChoices):
    """The lines of an enrollment's history (EnrollmentEvent)."""

    ENROLLED = "enrolled", _("Enrolled")
    STEP_RAN = "step_ran", _("Step ran")
    TASK_COMPLETED = "task_completed", _("Task completed")
    PAUSED = "paused", _("Paused")
    RESUMED = "resumed", _("Resumed")
    RESCHEDULED = "rescheduled", _("Rescheduled")
    REPLY = "reply", _("Reply received")
    AUTO_REPLY = "auto_reply", _("Automatic reply received")
    BOUNCE = "bounce", _("Bounce received")
    ENDED = "ended", _("Ended")
    FINISHED = "finished", _("Finished")
    SKIPPED = "skipped", _("Step skipped")
