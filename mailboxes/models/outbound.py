"""The outbound queue: email written in the CRM, waiting for (or done with) its provider."""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from mailboxes.constants import OutboundEventKind, SendSource, SendStatus, SentCopy
from mailboxes.models.content import EmailTemplate
from mailboxes.models.inboxes import Mailbox
from mailboxes.models.messages import EmailMessage


class Outbound(models.Model):
    """The sending state of one email written in the CRM.

    The message row (final Message-ID, bodies, raw MIME) and the timeline activity are written
    in the same transaction as this row; a worker claims due rows with SKIP LOCKED, so each is
    sent by one worker, and a row left in "sending" by a dead worker is looked up in the Sent
    folder before any retry.
    """

    message = models.OneToOneField(EmailMessage, on_delete=models.CASCADE, related_name="outbound")
    # No index on inbox or sender: nothing looks the queue up by them (deleting an inbox or a
    # user scans it once), and every send updates each row twice, index entries and all.
    mailbox = models.ForeignKey(
        Mailbox, null=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    envelope_from = models.EmailField()
    recipients = models.JSONField(default=list, help_text=_("Every envelope recipient, Bcc too."))
    bcc_addrs = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=12, choices=SendStatus.choices)
    scheduled_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    claimed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    provider_id = models.CharField(max_length=255, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    # When the send whose outcome is unknown was handed to the provider ("checking" and
    # "uncertain" rows): "it was sent" dates the email by it.
    attempted_at = models.DateTimeField(null=True, blank=True)
    # The copy for the Sent folder, for servers that do not file what they relay: "owed" is
    # written in the same commit that records the send, so a worker killed before filing it
    # leaves a row the periodic filer finds (outbox/copies.py).
    sent_copy = models.CharField(max_length=8, choices=SentCopy.choices, blank=True, default="")
    # The privacy check's inputs, re-checked when the email actually goes out.
    privacy_context = models.CharField(max_length=20)
    one_time_basis_id = models.PositiveBigIntegerField(null=True, blank=True)
    contact_ids = models.JSONField(default=list, blank=True)
    track = models.BooleanField(default=True)
    # Where the email came from, so reports and the ledger group mail without importing the
    # apps that queue it: the kind, the id of what sent it (a sequence step, an SMTP token or
    # an API key; none for one-to-one) and the template its body was written from.
    source = models.CharField(
        max_length=16, choices=SendSource.choices, default=SendSource.ONE_TO_ONE
    )
    source_id = models.PositiveBigIntegerField(null=True, blank=True)
    template = models.ForeignKey(
        EmailTemplate,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            # The ledger: a rep's emails, newest first (the order of `LEDGER_DATE`).
            models.Index(
                models.F("sender"),
                Coalesce("sent_at", "scheduled_at", "created_at").desc(),
                name="outbound_ledger",
            ),
            # Only the rows a worker may claim: sent mail piles up forever, the queue does not.
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(
                    status__in=[
                        SendStatus.QUEUED,
                        SendStatus.SCHEDULED,
                        SendStatus.SENDING,
                        SendStatus.CHECKING,
                    ]
                ),
                name="outbound_due",
            ),
            # The sending pool's own queue (transactional/pool/delivery.py), apart from the
            # inboxes' one: never held up behind it, and its deferred rows are due again.
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(
                    source=SendSource.TRANSACTIONAL,
                    status__in=[
                        SendStatus.QUEUED,
                        SendStatus.SCHEDULED,
                        SendStatus.DEFERRED,
                        SendStatus.SENDING,
                    ],
                ),
                name="outbound_transactional_due",
            ),
            # What one sequence, token or API key sent (transactional/credentials/stats.py,
            # the events' and sequences' lookups by source): without it, a scan of every row.
            models.Index(fields=["source", "source_id"], name="outbound_source"),
            # Only the copies still to file: filed ones pile up, owed ones do not.
            models.Index(
                fields=["mailbox", "sent_copy"],
                condition=models.Q(sent_copy__in=[SentCopy.OWED, SentCopy.FILING]),
                name="outbound_copy_owed",
            ),
        ]

    def __str__(self):
        return f"{self.message} ({self.status})"

    @property
    def went_out(self) -> bool:
        """Whether the email is known to have been sent (what opens and clicks need)."""
        return self.status in (SendStatus.SENT, SendStatus.RECONCILED)

    @property
    def available_actions(self) -> list[tuple[str, str]]:
        """What the rep can do with it now, as (action, label) for the timeline."""
        if self.source == SendSource.TRANSACTIONAL:
            # Sent by the pool's own worker: admins act on it from its queue page.
            return []
        if self.status in (SendStatus.SCHEDULED, SendStatus.QUEUED):
            return [("send-now", gettext("Send now")), ("cancel", gettext("Cancel"))]
        if self.status == SendStatus.UNCERTAIN:
            return [("mark-sent", gettext("It was sent")), ("send-again", gettext("Send again"))]
        if self.status == SendStatus.FAILED:
            return [("send-again", gettext("Try again"))]
        return []


class OutboundEvent(models.Model):
    """One line of an email's sending history, off the plain queued-then-sent path: a send
    that may or may not have gone out, what the provider said when asked, a retry, a failure,
    a person's decision. The timeline shows them under the email."""

    outbound = models.ForeignKey(Outbound, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(default=timezone.now)
    kind = models.CharField(max_length=10, choices=OutboundEventKind.choices)
    detail = models.TextField()

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M} {self.kind}: {self.detail}"


class OutboundAttachment(models.Model):
    """A file attached in the composer; kept with the email so a retry sends the same bytes."""

    outbound = models.ForeignKey(Outbound, on_delete=models.CASCADE, related_name="attachments")
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=120)
    size = models.PositiveIntegerField()
    content_id = models.CharField(max_length=120, blank=True, help_text=_("Inline images only."))
    data = models.BinaryField()

    def __str__(self):
        return self.filename


class DraftAttachment(models.Model):
    """A file a rep chose in the composer, kept while their email is not sent yet: a send the
    composer refused (a bad address, a missing token) gives the form back with its files still
    attached. Known to the page by `key` only, and only to its owner; the send that uses it
    deletes it, and rows left behind are deleted after a day (composer/attachments.py)."""

    key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=120)
    size = models.PositiveIntegerField()
    data = models.BinaryField()
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self):
        return self.filename


MINUTE = "minute"
DAY = "day"


# An email's date in the ledger: when it went out, or will, or else when it was written.
LEDGER_DATE = Coalesce("sent_at", "scheduled_at", "created_at")


def window_start(window: str, now: datetime) -> datetime:
    """Return the start of the minute or day window that `now` falls in.

    Days run midnight to midnight in the project's time zone (settings.TIME_ZONE), whatever
    time zone is active: a web request runs in its viewer's, and the page must count the
    same day as the worker that takes the tokens.
    """
    if window == MINUTE:
        return now.replace(second=0, microsecond=0)
    local = timezone.localtime(now, timezone.get_default_timezone())
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


@dataclass(frozen=True)
class SendingDay:
    """The day window the limits count in, for pages to name: its date in the project's time
    zone, and its start and end (aware: templates show them in the viewer's time zone)."""

    start: datetime
    end: datetime
    zone: str

    @property
    def date(self):
        return self.start.date()


def sending_day(now: datetime | None = None) -> SendingDay:
    """The current day window of the sending limits (see `window_start`)."""
    start = window_start(DAY, now or timezone.now())
    # Midnight of the next calendar day, right across DST changes.
    following = timezone.localtime(start + timedelta(hours=26), start.tzinfo)
    end = following.replace(hour=0, minute=0, second=0, microsecond=0)
    return SendingDay(start, end, timezone.get_default_timezone_name())


class SendCounterQuerySet(models.QuerySet):
    def used_by(self, mailbox_ids: list[int], now: datetime | None = None) -> dict:
        """Tokens taken in the current windows, in one query: {inbox id: {"minute": n,
        "day": n}} (outbox/throttle.py takes them; settings pages show them)."""
        now = now or timezone.now()
        current = models.Q(window=MINUTE, starts_at=window_start(MINUTE, now)) | models.Q(
            window=DAY, starts_at=window_start(DAY, now)
        )
        counts = {pk: dict.fromkeys((MINUTE, DAY), 0) for pk in mailbox_ids}
        rows = self.filter(current, mailbox_id__in=mailbox_ids)
        for mailbox_id, window, count in rows.values_list("mailbox_id", "window", "count"):
            counts[mailbox_id][window] = count
        return counts


class SendCounter(models.Model):
    """What one inbox sent in one window: emails in a minute, recipients in a day (the shared
    throttle, outbox/throttle.py).

    A row per window, incremented under a row lock, so every worker on every machine sees the
    same count without Redis (the embedded setup has none).
    """

    mailbox = models.ForeignKey(Mailbox, on_delete=models.CASCADE, related_name="+")
    window = models.CharField(max_length=6)  # "minute" or "day"
    starts_at = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)

    objects = SendCounterQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["mailbox", "window", "starts_at"], name="send_counter_unique"
            )
        ]

    def __str__(self):
        return f"{self.mailbox_id} {self.window} {self.starts_at}: {self.count}"
