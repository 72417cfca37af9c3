"""Sequences, their steps, the contacts enrolled in them and what happened to each enrollment.

An enrollment runs its steps one after another. `next_position` is the step it runs next and
`due_at` when (an aware instant, computed in the enrollment's time zone with the account's
sending calendar); the periodic tick claims due enrollments. A `StepRun` row is written in the
same transaction that runs a step (the email queued through the enqueue service, or the task
created): its unique (enrollment, position) makes each step run once whatever the workers do.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from mailboxes.models import EmailMessage, EmailTemplate, EmailThread, Mailbox, Outbound
from records.models import Activity, Contact, validate_time_zone

from .constants import EndReason, EnrollmentStatus, EventKind, StepKind


class Sequence(models.Model):
    """A cadence of steps, with the follow-up settings every enrollment of it obeys."""

    name = models.CharField(_("name"), max_length=200)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="sequences"
    )
    # Follow-up settings (SEQ-7).
    business_days_only = models.BooleanField(_("business days only"), default=True)
    # Emails go out between these wall-clock times in the enrollment's time zone (both empty:
    # the account's business hours).
    window_start = models.TimeField(_("send window from"), null=True, blank=True)
    window_end = models.TimeField(_("send window until"), null=True, blank=True)
    unenroll_on_reply = models.BooleanField(_("unenroll on reply"), default=True)
    unenroll_on_meeting = models.BooleanField(_("unenroll when a meeting is booked"), default=True)
    unenroll_company_on_reply = models.BooleanField(
        _("unenroll colleagues at the same company when one replies"), default=False
    )
    task_reminders = models.BooleanField(_("task reminders"), default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    archived_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name", "pk"]

    def __str__(self):
        return self.name

    @property
    def archived(self) -> bool:
        return self.archived_at is not None


class Step(models.Model):
    """One step. `delay_days` is waited after the previous step ran (ignored on the first)."""

    sequence = models.ForeignKey(Sequence, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveIntegerField()  # 0, 1, 2…
    kind = models.CharField(max_length=20, choices=StepKind.choices)
    delay_days = models.PositiveIntegerField(default=1)
    # Task steps: created as soon as the previous step ran, instead of after `delay_days`.
    create_task_immediately = models.BooleanField(default=False)
    # Task steps: the enrollment goes on without waiting for the task to be completed.
    continue_without_completing = models.BooleanField(default=False)
    # Automated email: the template it was made from (for reports) and its own copy, with tokens.
    template = models.ForeignKey(
        EmailTemplate, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    subject = models.CharField(max_length=500, blank=True)
    body = models.TextField(blank=True)
    # A later email goes out as a reply in the thread of the one before, unless this is set.
    new_thread = models.BooleanField(default=False)
    task_title = models.CharField(max_length=200, blank=True)
    task_notes = models.TextField(blank=True)

    class Meta:
        ordering = ["sequence", "position"]
        constraints = [
            models.UniqueConstraint(fields=["sequence", "position"], name="sequence_step_position")
        ]

    def __str__(self):
        return f"{self.sequence} #{self.position + 1}"

    @property
    def is_email(self) -> bool:
        return self.kind == StepKind.AUTO_EMAIL


class Enrollment(models.Model):
    """One contact going through one sequence."""

    sequence = models.ForeignKey(Sequence, on_delete=models.PROTECT, related_name="enrollments")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    enrolled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    mailbox = models.ForeignKey(Mailbox, on_delete=models.PROTECT, related_name="+")
    from_address = models.EmailField()
    time_zone = models.CharField(max_length=64, validators=[validate_time_zone])
    status = models.CharField(
        max_length=10, choices=EnrollmentStatus.choices, default=EnrollmentStatus.ACTIVE
    )
    end_reason = models.CharField(max_length=20, choices=EndReason.choices, blank=True)
    next_position = models.PositiveIntegerField(default=0)
    due_at = models.DateTimeField(null=True, blank=True)  # None: waits for a task, or ended
    paused_until = models.DateTimeField(null=True, blank=True)  # an out-of-office's return
    waiting_task = models.ForeignKey(
        Activity, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Per-enrollment edits of the steps, by position (str): {"delay_days", "subject", "body",
    # "task_title"}; what is absent comes from the step.
    overrides = models.JSONField(default=dict, blank=True)
    # The thread later emails reply in, and the last email sent.
    thread = models.ForeignKey(
        EmailThread, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_email = models.ForeignKey(
        EmailMessage, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Its card on the contact's timeline (status, history, next step).
    activity = models.OneToOneField(
        Activity, null=True, blank=True, on_delete=models.SET_NULL, related_name="enrollment"
    )
    started_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # A contact is in one sequence at a time ("already in a sequence").
            models.UniqueConstraint(
                fields=["contact"],
                condition=Q(status__in=EnrollmentStatus.live()),
                name="one_live_enrollment_per_contact",
            )
        ]
        indexes = [
            # The tick: active enrollments by when they are due.
            models.Index(
                fields=["due_at"],
                condition=Q(status=EnrollmentStatus.ACTIVE),
                name="enrollment_due",
            ),
            models.Index(fields=["sequence", "status"], name="enrollment_by_sequence"),
        ]

    def __str__(self):
        return f"{self.contact_id} in {self.sequence_id}"


class StepRun(models.Model):
    """A step that ran for an enrollment: written in the transaction that ran it, once."""

    enrollment = models.ForeignKey(Enrollment, on_delete=models.CASCADE, related_name="runs")
    position = models.PositiveIntegerField()
    kind = models.CharField(max_length=20, choices=StepKind.choices)
    ran_at = models.DateTimeField(default=timezone.now)
    outbound = models.ForeignKey(
        Outbound, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    task = models.ForeignKey(
        Activity, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["enrollment", "position"], name="step_runs_once")
        ]

    def __str__(self):
        return f"{self.enrollment_id} step {self.position + 1}"


class EnrollmentEvent(models.Model):
    """A line of an enrollment's history: enrolled, step ran, paused, resumed, ended and why."""

    enrollment = models.ForeignKey(Enrollment, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(default=timezone.now)
    kind = models.CharField(max_length=30, choices=EventKind.choices)
    detail = models.CharField(max_length=500, blank=True)
    position = models.PositiveIntegerField(null=True, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self):
        return f"{self.enrollment_id} {self.kind}"


# The automation rules' models live beside their code; imported here so Django finds them.
from .automation.models import AutomationRule, RuleFiring  # noqa: E402, F401
