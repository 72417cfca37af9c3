"""Automation rules of a sequence and the log of their firings (imported by sequences.models,
so they belong to the sequences app and its migrations; they name its models by label, as
importing them back would be a cycle)."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from records.models import Contact, ContactList


class Action(models.TextChoices):
    ENROLL = "enroll", _("Enroll")
    UNENROLL = "unenroll", _("Unenroll")


class Trigger(models.TextChoices):
    PROPERTY = "property", _("A contact property changes to a value")
    LIST = "list", _("A contact is added to a list")


class Outcome(models.TextChoices):
    ENROLLED = "enrolled", _("Enrolled")
    UNENROLLED = "unenrolled", _("Unenrolled")
    SKIPPED = "skipped", _("Skipped")
    ERROR = "error", _("Error")


class AutomationRule(models.Model):
    """When a contact's `property` changes to `value` (trigger "property"), or when it is
    added to `contact_list` (trigger "list"), enroll it in the sequence (as `owner`, from
    their default From inbox) or end its live enrollment in it. A list rule whose list was
    deleted keeps its log and fires no more."""

    sequence = models.ForeignKey(
        "sequences.Sequence", on_delete=models.CASCADE, related_name="automation_rules"
    )
    action = models.CharField(_("action"), max_length=10, choices=Action.choices)
    trigger = models.CharField(
        _("trigger"), max_length=10, choices=Trigger.choices, default=Trigger.PROPERTY
    )
    property = models.CharField(_("property"), max_length=60, blank=True)
    value = models.CharField(_("value"), max_length=255, blank=True)
    contact_list = models.ForeignKey(
        ContactList, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    enabled = models.BooleanField(_("on"), default=True)
    # Who the rule enrolls as: their access, their inbox, their zone when the contact has none.
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "pk"]
        # A change looks up the enabled rules on the properties it changed, in one query.
        indexes = [
            models.Index(fields=["property", "enabled"], name="automation_rule_property"),
            # Contacts added to a list look up the enabled rules on it, in one query.
            models.Index(fields=["contact_list", "enabled"], name="automation_rule_list"),
        ]

    def __str__(self):
        if self.trigger == Trigger.LIST:
            return f"{self.get_action_display()} when added to list {self.contact_list_id}"
        return f"{self.get_action_display()} when {self.property} = {self.value}"


class RuleFiring(models.Model):
    """One firing of a rule for one contact, and what came of it."""

    rule = models.ForeignKey(AutomationRule, on_delete=models.CASCADE, related_name="firings")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    at = models.DateTimeField(default=timezone.now)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    reason = models.CharField(max_length=500, blank=True)  # why it was skipped, or the error
    enrollment = models.ForeignKey(
        "sequences.Enrollment", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["rule", "at"], name="rule_firing_at")]

    def __str__(self):
        return f"{self.rule_id} {self.contact_id} {self.outcome}"
