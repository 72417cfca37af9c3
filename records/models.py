"""Users, teams and seats; CRM records and their associations; timeline activities."""

import zoneinfo

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from . import signals
from .calendar.hours import (
    default_weekly_hours,
    validate_weekly_hours,
    validate_working_hours,
)
from .constants import (
    DealStage,
    LifecycleStage,
    MeetingOutcome,
    PropertyType,
    RecordAccess,
    RecordKind,
    Seat,
    TaskStatus,
    TaskType,
    TicketPriority,
    TicketStatus,
)


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(
            gettext("%(value)s is not a known time zone.") % {"value": repr(value)}
        )


class Team(models.Model):
    """A group of users; "team" record access shows the records its members own."""

    name = models.CharField(_("name"), max_length=100, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class OneRow:
    """A model of the whole account's settings, kept in one row (pk 1: each model's check
    constraint holds it so)."""

    @classmethod
    def load(cls):
        """Return the row, or the defaults (unsaved) until an admin saves some: a page that
        only reads them writes nothing."""
        return cls.objects.filter(pk=1).first() or cls(pk=1)


class AccountSettings(OneRow, models.Model):
    """Settings of the whole account: one row, always pk 1, read with `load()`.

    Deal amounts are shown in `currency`, written the way `number_locale` writes numbers
    (records/money.py): "€12,500.00" for en_US, "12.500,00 €" for de_DE.
    """

    currency = models.CharField(_("Currency"), max_length=3, default="EUR")
    number_locale = models.CharField(_("Number format"), max_length=20, default="en_US")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = _("account settings")
        constraints = [models.CheckConstraint(condition=Q(pk=1), name="account_settings_single")]

    def __str__(self):
        return gettext("Account settings")


def default_time_zone() -> str:
    return settings.TIME_ZONE


class BusinessCalendar(OneRow, models.Model):
    """The account's sending calendar: business hours per weekday in one time zone.

    One row, always pk 1, read with `load()`. Holidays are `Holiday` rows. The clock over it
    is `records.calendar.clock.Calendar`; each user's `working_hours` replace the hours (not
    the holidays) for that user.
    """

    time_zone = models.CharField(
        max_length=64, default=default_time_zone, validators=[validate_time_zone]
    )
    # Seven days, Monday first, each a list of ["HH:MM", "HH:MM"] (records/calendar/hours.py).
    weekly_hours = models.JSONField(
        default=default_weekly_hours, validators=[validate_weekly_hours]
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(pk=1), name="business_calendar_single")]

    def __str__(self):
        return gettext("Sending calendar")


class Holiday(models.Model):
    """A day the account does not work: once (`date`), or every year on its month and day.

    `country` names the national calendar it was imported from (records/calendar/
    countries.py); empty when an admin typed it. A yearly 29 February falls in leap years
    only.
    """

    date = models.DateField()
    name = models.CharField(max_length=200)
    yearly = models.BooleanField(default=False)
    country = models.CharField(max_length=2, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["date"]
        constraints = [
            # One one-off holiday a date; yearly ones are kept apart by their month and day
            # (the form and the import check both).
            models.UniqueConstraint(
                fields=["date"], condition=Q(yearly=False), name="holiday_one_a_date"
            )
        ]

    def __str__(self):
        return f"{self.name} ({self.date})"


class User(AbstractUser):
    """A person who signs in. `is_staff` makes them an account admin.

    The profile name is the From name of the email they send; the seat decides what they may
    do, and record access decides which records they see.
    """

    profile_name = models.CharField(
        max_length=150, blank=True, help_text=_("Shown as the From name on email you send.")
    )
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="members"
    )
    seat = models.CharField(max_length=20, choices=Seat.choices, default=Seat.CORE)
    record_access = models.CharField(
        max_length=10, choices=RecordAccess.choices, default=RecordAccess.OWN
    )
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    # Weekly hours in `time_zone` (records/calendar/hours.py); empty: the account's business
    # hours, in the account's zone.
    working_hours = models.JSONField(default=list, blank=True, validators=[validate_working_hours])

    @property
    def display_name(self) -> str:
        return self.profile_name or self.get_full_name() or self.username

    @property
    def can_edit_records(self) -> bool:
        return self.seat != Seat.VIEW_ONLY

    @property
    def can_reach_out(self) -> bool:
        """May contact people on the account's behalf (the apps above decide what that
        covers: email, calls, sequences). Every seat but View-only."""
        return self.seat != Seat.VIEW_ONLY

    def __str__(self):
        return self.display_name


class CustomObjectType(models.Model):
    """An object type an admin defines (e.g. "Project"), with its own properties."""

    name = models.CharField(
        _("name"), max_length=60, unique=True, help_text=_("Singular, e.g. Project")
    )
    plural = models.CharField(
        _("plural"), max_length=60, unique=True, help_text=_("Plural, e.g. Projects")
    )
    slug = models.SlugField(max_length=60, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class PropertyDefinition(models.Model):
    """One property of a custom object type; values live in `Record.properties` by `key`."""

    object_type = models.ForeignKey(
        CustomObjectType, on_delete=models.CASCADE, related_name="property_definitions"
    )
    key = models.SlugField(max_length=60)
    label = models.CharField(max_length=100)
    type = models.CharField(max_length=10, choices=PropertyType.choices, default=PropertyType.TEXT)
    options = models.JSONField(default=list, blank=True, help_text=_("Choices of a dropdown"))
    required = models.BooleanField(default=False)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["object_type", "key"], name="property_key_unique")
        ]

    def __str__(self):
        return self.label


class Record(models.Model):
    """The common part of every CRM record: contacts, companies, deals, tickets, custom objects.

    One id space for every type lets associations, timelines and access rules treat all records
    alike. `search_text` is a lowercased digest (name, addresses, domain) kept by the services
    so that one indexed LIKE answers a search.
    """

    kind = models.CharField(max_length=10, choices=RecordKind.choices)
    custom_type = models.ForeignKey(
        CustomObjectType, null=True, blank=True, on_delete=models.PROTECT, related_name="records"
    )
    name = models.CharField(_("name"), max_length=255)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_records",
    )
    properties = models.JSONField(default=dict, blank=True)
    search_text = models.TextField(blank=True, default="", editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(fields=["kind", "name"], name="record_kind_name"),
            models.Index(fields=["kind", "created_at"], name="record_kind_created"),
            models.Index(fields=["kind", "updated_at"], name="record_kind_updated"),
            models.Index(fields=["owner", "kind"], name="record_owner_kind"),
            models.Index(fields=["custom_type", "name"], name="record_custom_name"),
        ]

    # Subclasses name their kind, so a row saved any way lands in its type's lists.
    KIND = ""

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        if self.KIND:
            self.kind = self.KIND
        super().save(*args, **kwargs)

    @property
    def typed(self) -> "Record":
        """Return the subclass instance (Contact, Deal, ...) for this record."""
        accessor = {
            RecordKind.CONTACT: "contact",
            RecordKind.COMPANY: "company",
            RecordKind.DEAL: "deal",
            RecordKind.TICKET: "ticket",
        }.get(self.kind)
        return getattr(self, accessor) if accessor else self


class Contact(Record):
    """A person. `email` mirrors the primary address in `emails` for fast lists and search."""

    KIND = RecordKind.CONTACT

    first_name = models.CharField(_("first name"), max_length=100, blank=True)
    last_name = models.CharField(_("last name"), max_length=100, blank=True)
    email = models.EmailField(blank=True, db_index=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    job_title = models.CharField(_("job title"), max_length=100, blank=True)
    lifecycle_stage = models.CharField(
        _("lifecycle stage"),
        max_length=30,
        choices=LifecycleStage.choices,
        default=LifecycleStage.LEAD,
    )


class ContactEmail(models.Model):
    """One of a contact's addresses; exactly one is primary when there are any.

    An address belongs to at most one contact in the whole account, as in HubSpot: sync logs
    an email on the one contact that owns the address, and nobody can take over another
    team's customer by typing their address into a contact of their own. The database holds
    it whatever wrote the row, case-insensitively (`contact_email_one_contact`, a unique
    index on the lowercased address, which `selectors.contacts_by_address` looks up);
    `services.contact_save` also stores addresses lowercased.
    """

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="emails")
    address = models.EmailField()
    is_primary = models.BooleanField(default=False)

    class Meta:
        ordering = ["-is_primary", "address"]
        indexes = [models.Index(fields=["address"], name="contact_email_address")]
        constraints = [
            models.UniqueConstraint(Lower("address"), name="contact_email_one_contact"),
            models.UniqueConstraint(
                fields=["contact"], condition=Q(is_primary=True), name="contact_one_primary"
            ),
        ]

    def __str__(self):
        return self.address


class ContactMerge(models.Model):
    """A contact merged into another: its old id still names the one it became.

    Written when duplicates are merged (the data migration that made addresses unique, and
    any merge to come), so that what carries an old id outside the database, such as the
    signed preferences and unsubscribe links of email already sent, still reaches the person.
    """

    merged_id = models.PositiveBigIntegerField(primary_key=True)
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="merged_ids")
    merged_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"contact {self.merged_id} merged into {self.contact_id}"


class Company(Record):
    KIND = RecordKind.COMPANY
    domain = models.CharField(_("domain"), max_length=255, blank=True, db_index=True)
    industry = models.CharField(_("industry"), max_length=100, blank=True)
    city = models.CharField(_("city"), max_length=100, blank=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True)

    class Meta:
        verbose_name_plural = _("companies")


class Deal(Record):
    KIND = RecordKind.DEAL
    stage = models.CharField(
        _("stage"), max_length=30, choices=DealStage.choices, default=DealStage.APPOINTMENT
    )
    pipeline = models.CharField(max_length=60, default="Sales pipeline")
    amount = models.DecimalField(
        _("amount"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    close_date = models.DateField(_("close date"), null=True, blank=True)


class Ticket(Record):
    KIND = RecordKind.TICKET
    status = models.CharField(
        _("status"), max_length=30, choices=TicketStatus.choices, default=TicketStatus.NEW
    )
    priority = models.CharField(
        _("priority"), max_length=10, choices=TicketPriority.choices, default=TicketPriority.MEDIUM
    )
    pipeline = models.CharField(max_length=60, default="Support pipeline")
    description = models.TextField(_("description"), blank=True)


class Association(models.Model):
    """A link between two records of any types. Stored in both directions, one row each."""

    from_record = models.ForeignKey(Record, on_delete=models.CASCADE, related_name="links_out")
    to_record = models.ForeignKey(Record, on_delete=models.CASCADE, related_name="links_in")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["from_record", "to_record"], name="association_unique"),
            models.CheckConstraint(
                condition=~Q(from_record=models.F("to_record")), name="association_not_self"
            ),
        ]

    def __str__(self):
        return f"{self.from_record_id} -> {self.to_record_id}"


class Activity(models.Model):
    """Something that happened on one or more records: a note, a task, or a kind an app above
    registered (records.timeline).

    Notes and tasks keep their fields here; richer kinds hang their own row off the activity
    in the app that owns them. Write through records.timeline, never directly.
    """

    # Open-ended: apps register their kinds in records.timeline (records knows only its own).
    kind = models.CharField(max_length=32)
    occurred_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    body = models.TextField(blank=True)
    # Tasks only.
    title = models.CharField(max_length=200, blank=True)
    task_type = models.CharField(max_length=10, choices=TaskType.choices, blank=True)
    status = models.CharField(max_length=15, choices=TaskStatus.choices, blank=True)
    due_at = models.DateTimeField(null=True, blank=True)
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_tasks",
    )
    completed_at = models.DateTimeField(null=True, blank=True)
    # Meetings only: they start at occurred_at (so the timeline shows them at their time).
    meeting_outcome = models.CharField(max_length=12, choices=MeetingOutcome.choices, blank=True)
    duration_minutes = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = _("activities")

    def __str__(self):
        return f"{self.kind} {self.pk}"

    def complete(self, when=None) -> None:
        """Mark the task completed; `task_completed` is sent once that commits."""
        self.status = TaskStatus.COMPLETED
        self.completed_at = when or timezone.now()
        self.save(update_fields=["status", "completed_at"])
        event = signals.TaskCompleted(activity_id=self.pk, completed_at=self.completed_at)
        signals.send_on_commit(signals.task_completed, __name__, event)

    def reopen(self) -> None:
        self.status = TaskStatus.NOT_STARTED
        self.completed_at = None
        self.save(update_fields=["status", "completed_at"])


class ActivityLink(models.Model):
    """Puts an activity on a record's timeline. `occurred_at` is copied for the index order."""

    activity = models.ForeignKey(Activity, on_delete=models.CASCADE, related_name="links")
    record = models.ForeignKey(Record, on_delete=models.CASCADE, related_name="activity_links")
    occurred_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["activity", "record"], name="activity_link_unique")
        ]
        indexes = [
            models.Index(fields=["record", "-occurred_at", "-activity"], name="timeline_order")
        ]

    def __str__(self):
        return f"activity {self.activity_id} on record {self.record_id}"


# The saved lists' and the imports' models live beside their code; imported here so Django
# finds them.
from .imports.models import Import, ImportFile, ImportRejection  # noqa: E402, F401
from .lists.models import ContactList, ListMember  # noqa: E402, F401
