"""Choices shared by the records app's models, forms and views."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Seat(models.TextChoices):
    CORE = "core", "Core"
    SALES = "sales", "Sales Hub"
    SERVICE = "service", "Service Hub"
    VIEW_ONLY = "view_only", "View-only"


class RecordAccess(models.TextChoices):
    ALL = "all", "All records"
    TEAM = "team", "Their team's records"
    OWN = "own", "Only their own records"


class RecordKind(models.TextChoices):
    CONTACT = "contact", "Contact"
    COMPANY = "company", "Company"
    DEAL = "deal", "Deal"
    TICKET = "ticket", "Ticket"
    CUSTOM = "custom", "Custom object"


class LifecycleStage(models.TextChoices):
    SUBSCRIBER = "subscriber", "Subscriber"
    LEAD = "lead", "Lead"
    MQL = "marketingqualifiedlead", "Marketing qualified lead"
    SQL = "salesqualifiedlead", "Sales qualified lead"
    OPPORTUNITY = "opportunity", "Opportunity"
    CUSTOMER = "customer", "Customer"
    EVANGELIST = "evangelist", "Evangelist"
    OTHER = "other", "Other"


class DealStage(models.TextChoices):
    APPOINTMENT = "appointmentscheduled", "Appointment scheduled"
    QUALIFIED = "qualifiedtobuy", "Qualified to buy"
    PRESENTATION = "presentationscheduled", "Presentation scheduled"
    DECISION = "decisionmakerboughtin", "Decision maker bought-in"
    CONTRACT = "contractsent", "Contract sent"
    WON = "closedwon", "Closed won"
    LOST = "closedlost", "Closed lost"


class TicketStatus(models.TextChoices):
    NEW = "new", "New"
    WAITING_CONTACT = "waiting_on_contact", "Waiting on contact"
    WAITING_US = "waiting_on_us", "Waiting on us"
    CLOSED = "closed", "Closed"


class TicketPriority(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"
    URGENT = "urgent", "Urgent"


class PropertyType(models.TextChoices):
    TEXT = "text", "Single-line text"
    NUMBER = "number", "Number"
    DATE = "date", "Date"
    BOOLEAN = "boolean", "Yes / no"
    CHOICE = "choice", "Dropdown select"


class ActivityKind:
    """The kinds records itself owns; apps register theirs in `records.timeline`."""

    NOTE = "note"
    TASK = "task"
    MEETING = "meeting"


class TaskType(models.TextChoices):
    TODO = "todo", "To-do"
    CALL = "call", "Call"
    EMAIL = "email", "Email"


class MeetingOutcome(models.TextChoices):
    """HubSpot's meeting outcomes. Every one but "Canceled" means the meeting was booked."""

    SCHEDULED = "scheduled", _("Scheduled")
    COMPLETED = "completed", _("Completed")
    RESCHEDULED = "rescheduled", _("Rescheduled")
    NO_SHOW = "no_show", _("No show")
    CANCELED = "canceled", _("Canceled")


class TaskStatus(models.TextChoices):
    NOT_STARTED = "not_started", "Not started"
    COMPLETED = "completed", "Completed"


# URL slugs of the built-in record types; custom object types may not take these.
BUILTIN_TYPE_SLUGS = ("contacts", "companies", "deals", "tickets")
RESERVED_SLUGS = BUILTIN_TYPE_SLUGS + ("settings", "login", "logout", "health", "static", "tasks")
