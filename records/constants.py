"""Choices shared by the records app's models, forms and views."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Seat(models.TextChoices):
    CORE = "core", _("Core")
    SALES = "sales", _("Sales Hub")
    SERVICE = "service", _("Service Hub")
    VIEW_ONLY = "view_only", _("View-only")


class RecordAccess(models.TextChoices):
    ALL = "all", _("All records")
    TEAM = "team", _("Their team's records")
    OWN = "own", _("Only their own records")


class RecordKind(models.TextChoices):
    CONTACT = "contact", _("Contact")
    COMPANY = "company", _("Company")
    DEAL = "deal", _("Deal")
    TICKET = "ticket", _("Ticket")
    CUSTOM = "custom", _("Custom object")


class LifecycleStage(models.TextChoices):
    SUBSCRIBER = "subscriber", _("Subscriber")
    LEAD = "lead", _("Lead")
    MQL = "marketingqualifiedlead", _("Marketing qualified lead")
    SQL = "salesqualifiedlead", _("Sales qualified lead")
    OPPORTUNITY = "opportunity", _("Opportunity")
    CUSTOMER = "customer", _("Customer")
    EVANGELIST = "evangelist", _("Evangelist")
    OTHER = "other", _("Other")


class DealStage(models.TextChoices):
    APPOINTMENT = "appointmentscheduled", _("Appointment scheduled")
    QUALIFIED = "qualifiedtobuy", _("Qualified to buy")
    PRESENTATION = "presentationscheduled", _("Presentation scheduled")
    DECISION = "decisionmakerboughtin", _("Decision maker bought-in")
    CONTRACT = "contractsent", _("Contract sent")
    WON = "closedwon", _("Closed won")
    LOST = "closedlost", _("Closed lost")


class TicketStatus(models.TextChoices):
    NEW = "new", _("New")
    WAITING_CONTACT = "waiting_on_contact", _("Waiting on contact")
    WAITING_US = "waiting_on_us", _("Waiting on us")
    CLOSED = "closed", _("Closed")


class TicketPriority(models.TextChoices):
    LOW = "low", _("Low")
    MEDIUM = "medium", _("Medium")
    HIGH = "high", _("High")
    URGENT = "urgent", _("Urgent")


class PropertyType(models.TextChoices):
    TEXT = "text", _("Single-line text")
    NUMBER = "number", _("Number")
    DATE = "date", _("Date")
    BOOLEAN = "boolean", _("Yes / no")
    CHOICE = "choice", _("Dropdown select")


class ActivityKind:
    """The kinds records itself owns; apps register theirs in `records.timeline`."""

    NOTE = "note"
    TASK = "task"
    MEETING = "meeting"


class TaskType(models.TextChoices):
    TODO = "todo", _("To-do")
    CALL = "call", _("Call")
    EMAIL = "email", _("Email")


class MeetingOutcome(models.TextChoices):
    """HubSpot's meeting outcomes. Every one but "Canceled" means the meeting was booked."""

    SCHEDULED = "scheduled", _("Scheduled")
    COMPLETED = "completed", _("Completed")
    RESCHEDULED = "rescheduled", _("Rescheduled")
    NO_SHOW = "no_show", _("No show")
    CANCELED = "canceled", _("Canceled")


class TaskStatus(models.TextChoices):
    NOT_STARTED = "not_started", _("Not started")
    COMPLETED = "completed", _("Completed")


# URL slugs of the built-in record types; custom object types may not take these.
BUILTIN_TYPE_SLUGS = ("contacts", "companies", "deals", "tickets")
RESERVED_SLUGS = BUILTIN_TYPE_SLUGS + ("settings", "login", "logout", "health", "static", "tasks")
