"""Email reports' rollups: one fact row per email, counts per day and group, and the emails
whose counts changed since (mailboxes/reports/rollups.py keeps them)."""

from django.db import models

from mailboxes.constants import SendSource
from mailboxes.models.messages import EmailMessage

# What each email counts for, in the order of the rollups' columns (all 0 or 1 per email).
REPORT_MEASURES = (
    "sent",
    "delivered",
    "bounced",
    "tracked",
    "opened",
    "opened_any",
    "opened_proxy",
    "clicked",
    "clicked_any",
    "replied",
    "unsubscribed",
)
# What each rollup row is grouped by. Ids, not foreign keys, 0 for none: the rollups must
# outlive a deleted user or template, and a unique key over them must hold without NULLs.
REPORT_KEYS = ("day", "rep_id", "team_id", "source", "source_id", "template_id")


def _measures(field=models.PositiveSmallIntegerField):
    return {name: field(default=0) for name in REPORT_MEASURES}


def _keys():
    return {
        "day": models.DateField(),
        "rep_id": models.BigIntegerField(default=0),
        "team_id": models.BigIntegerField(default=0),
        "source": models.CharField(max_length=16, choices=SendSource.choices, blank=True),
        "source_id": models.BigIntegerField(default=0),
        "template_id": models.BigIntegerField(default=0),
    }


class ReportEmail(models.Model):
    """What one outgoing email counts for in the reports, as last rolled up.

    The rollups below are the sums of these rows; a change to an email (an open, a bounce, a
    reply) replaces its row and moves the difference into the rollups, so the two never drift.
    An email the reports leave out (not sent, logged by hand) has a row of zeros.
    """

    message = models.OneToOneField(
        EmailMessage,
        on_delete=models.DO_NOTHING,
        primary_key=True,
        db_constraint=False,
        related_name="+",
    )
    locals().update(_keys())
    locals().update(_measures())

    def __str__(self):
        return f"report facts of {self.message_id}"


class ReportDaily(models.Model):
    """Counts of emails per day (in the account's time zone) and group: what the reports
    page reads, never the raw events."""

    locals().update(_keys())
    # Sums moved by differences: a plain integer, so a difference applied out of order in one
    # statement is never refused.
    locals().update(_measures(models.IntegerField))

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=list(REPORT_KEYS), name="report_daily_group"),
        ]
        indexes = [models.Index(fields=["day", "rep_id"], name="report_daily_day_rep")]

    def __str__(self):
        return f"report {self.day} rep {self.rep_id} {self.source}:{self.source_id}"


class ReportDirty(models.Model):
    """An email whose report counts may have changed: the refresh job rolls it up again
    (within a minute) and deletes the row."""

    message_id = models.BigIntegerField(primary_key=True)
    marked_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"report refresh owed for {self.message_id}"
