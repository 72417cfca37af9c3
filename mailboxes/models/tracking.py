"""Open and click tracking: the links a sent email carries, raw events, per-message rollups."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from mailboxes.constants import SendSource
from mailboxes.models.messages import EmailMessage

# The choices live here, not in constants.py, so tracking stays one self-contained sub-domain.


class TrackingKind(models.TextChoices):
    OPEN = "open", _("Open")
    CLICK = "click", _("Click")


class TrackingReason(models.TextChoices):
    """Who (probably) made a hit; only HUMAN counts in timelines and reports."""

    HUMAN = "human", _("Person")
    PRIVACY_PROXY = "privacy_proxy", _("Privacy proxy")
    SECURITY_SCANNER = "security_scanner", _("Security scanner")
    PREFETCH = "prefetch", _("Link pre-fetcher")


class TrackedLink(models.Model):
    """One rewritten link of a sent email: the only URL its click token may redirect to.

    The click token signs the message id, this row's id and `url` together, so a row whose URL
    was changed afterwards, or a token moved to another message's link, verifies as nothing.
    """

    message = models.ForeignKey(EmailMessage, on_delete=models.CASCADE, related_name="+")
    position = models.PositiveSmallIntegerField(
        help_text=_("Order of the link in the HTML, from 0.")
    )
    url = models.TextField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["message", "position"], name="tracked_link_position")
        ]

    def __str__(self):
        return self.url


class TrackingEvent(models.Model):
    """One hit on an open pixel or a click link, with what it takes to tell people from bots.

    Written in batches by `tracking.flush_events()` (or one at a time where no Redis buffer is
    configured). `reason` may be rewritten later, once: a click that turns out to be part of a
    burst over every link (a scanner) is re-marked with its burst, and the rollup follows.
    """

    # The (message, at) index serves the per-message lookups; a separate FK index would only
    # slow the inserts down.
    message = models.ForeignKey(
        EmailMessage, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    kind = models.CharField(max_length=5, choices=TrackingKind.choices)
    link = models.ForeignKey(TrackedLink, null=True, on_delete=models.CASCADE, related_name="+")
    at = models.DateTimeField()
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=400, blank=True)
    reason = models.CharField(max_length=16, choices=TrackingReason.choices)
    detail = models.CharField(max_length=100, blank=True)
    # The email's source, copied from its outbound row when the event is written.
    source = models.CharField(max_length=16, choices=SendSource.choices, blank=True)
    source_id = models.PositiveBigIntegerField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["message", "at"], name="tracking_event_message_at")]

    def __str__(self):
        return f"{self.kind} {self.message_id} {self.reason} at {self.at:%Y-%m-%d %H:%M:%S}"


class TrackingRollup(models.Model):
    """Per-message counts of human and other opens and clicks: what timelines and reports read.

    Created (all zero) when the email is instrumented, so its presence means "tracked"; updated
    in the same transaction as the events it counts, so it never drifts from them. Reports never
    GROUP BY raw events (~1.4 s over a million rows on PostgreSQL).
    """

    message = models.OneToOneField(
        EmailMessage, on_delete=models.CASCADE, primary_key=True, related_name="tracking"
    )
    human_opens = models.PositiveIntegerField(default=0)
    human_clicks = models.PositiveIntegerField(default=0)
    other_opens = models.PositiveIntegerField(default=0)
    other_clicks = models.PositiveIntegerField(default=0)
    # Of the other opens, those through a privacy proxy (reports label opens as estimates).
    proxy_opens = models.PositiveIntegerField(default=0)
    first_human_open_at = models.DateTimeField(null=True, blank=True)
    last_human_open_at = models.DateTimeField(null=True, blank=True)
    last_event_at = models.DateTimeField(null=True, blank=True)
    # The email's source, set when it is instrumented (what reports group by).
    source = models.CharField(max_length=16, choices=SendSource.choices, blank=True)
    source_id = models.PositiveBigIntegerField(null=True, blank=True)

    class Meta:
        # Reports and a token's counts read the rollups of one source (its id).
        indexes = [models.Index(fields=["source", "source_id"], name="tracking_rollup_source")]

    def __str__(self):
        return f"tracking of {self.message_id}"

    @property
    def other_total(self) -> int:
        return self.other_opens + self.other_clicks


class TrackingCursor(models.Model):
    """How far the Redis event stream has been written to the database (one row per stream).

    Advanced in the same transaction as the events it covers, so a flush that dies before or
    after its commit is neither lost nor repeated.
    """

    stream = models.CharField(max_length=100, primary_key=True)
    last_id = models.CharField(max_length=40, default="0-0")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"{self.stream} at {self.last_id}"


class DeletedTrackedEmail(models.Model):
    """A tracked email deleted from the CRM: its click links no longer redirect.

    Written in the transaction that deletes the email (tracking/revocation.py), so it outlasts
    the Redis set the click endpoint reads, which is rebuilt from these rows when Redis loses
    it. Not a foreign key: the message row is gone.
    """

    message_id = models.BigIntegerField(primary_key=True)
    deleted_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"deleted tracked email {self.message_id}"
