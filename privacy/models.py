"""Data-privacy setting, subscription types and statuses, opt-outs, legal bases, and the
event table that is both each contact's privacy history and the account's audit trail."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from records.models import Contact

from .constants import (
    EventKind,
    LegalBasisKind,
    OptOutSource,
    SenderContext,
    SubscriptionKind,
    SubscriptionState,
)

BUILTIN_TYPES = {
    SubscriptionKind.ONE_TO_ONE: (
        "One to one",
        "Email your sales and service reps write to you personally, and their sequences.",
    ),
    SubscriptionKind.TRANSACTIONAL: (
        "Transactional",
        "Receipts, invoices, password resets and other email about something you asked for. "
        "It cannot be subscribed to or opted out of.",
    ),
}


class PrivacySettings(models.Model):
    """Hold the account's data-privacy (GDPR) switch: one row, always pk 1, read with `load()`."""

    gdpr_enabled = models.BooleanField(
        gettext_lazy("Data privacy (GDPR) rules"),
        default=False,
        help_text=gettext_lazy(
            "When on, one-to-one and sequence email needs a legal basis to communicate "
            "or the One to one subscription."
        ),
    )
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name_plural = gettext_lazy("privacy settings")
        constraints = [models.CheckConstraint(condition=Q(pk=1), name="privacy_settings_single")]

    def __str__(self):
        return "Privacy settings"

    @classmethod
    def load(cls) -> "PrivacySettings":
        """Return the settings row, creating it (privacy off) the first time."""
        row, _ = cls.objects.get_or_create(pk=1)
        return row


class SubscriptionType(models.Model):
    """Define a kind of email a contact can subscribe to or opt out of.

    Two are built in and cannot be deleted or deactivated: "One to one" (the rep's own email
    and sequences) and "Transactional" (which nobody subscribes to or opts out of). At most one
    type of each of those kinds exists; admins add any number of "other" types.
    """

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    kind = models.CharField(
        max_length=20, choices=SubscriptionKind.choices, default=SubscriptionKind.OTHER
    )
    is_builtin = models.BooleanField(default=False, editable=False)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-is_builtin", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind"],
                condition=~Q(kind=SubscriptionKind.OTHER),
                name="subscription_type_one_builtin_per_kind",
            ),
            models.CheckConstraint(
                condition=Q(is_builtin=False) | Q(is_active=True),
                name="subscription_type_builtin_active",
            ),
        ]

    def __str__(self):
        return self.name

    @property
    def accepts_status(self) -> bool:
        return self.kind != SubscriptionKind.TRANSACTIONAL

    @classmethod
    def builtin(cls, kind: str, manager=None) -> "SubscriptionType":
        """Return the built-in type of `kind`, made if missing (apps.py makes them again after
        a flush through `manager`: the migrated model's, on the flushed database)."""
        name, description = BUILTIN_TYPES[kind]
        row, _ = (manager or cls.objects).get_or_create(
            kind=kind, defaults={"name": name, "description": description, "is_builtin": True}
        )
        return row


class SubscriptionStatus(models.Model):
    """Record a contact's status for one subscription type; no row means "not specified".

    A subscription made by a rep carries the legal basis and its explanation; one made by the
    contact on the preferences page is consent.
    """

    contact = models.ForeignKey(
        Contact, on_delete=models.CASCADE, related_name="subscription_statuses"
    )
    subscription_type = models.ForeignKey(
        SubscriptionType, on_delete=models.PROTECT, related_name="statuses"
    )
    status = models.CharField(
        max_length=20, choices=SubscriptionState.choices, default=SubscriptionState.NOT_SPECIFIED
    )
    legal_basis = models.CharField(max_length=40, choices=LegalBasisKind.choices, blank=True)
    legal_basis_explanation = models.TextField(blank=True)
    by_contact = models.BooleanField(default=False)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = gettext_lazy("subscription statuses")
        constraints = [
            models.UniqueConstraint(
                fields=["contact", "subscription_type"], name="subscription_status_unique"
            )
        ]

    def __str__(self):
        return f"{self.contact_id} {self.subscription_type_id}: {self.status}"


class ContactOptOut(models.Model):
    """Mark a contact as opted out of all email; the row's presence is the opt-out.

    Only the contact can lift it (by subscribing again on their preferences page); the row is
    then deleted and the history keeps both events.
    """

    contact = models.OneToOneField(
        Contact, on_delete=models.CASCADE, primary_key=True, related_name="opt_out"
    )
    opted_out_at = models.DateTimeField(default=timezone.now)
    source = models.CharField(max_length=20, choices=OptOutSource.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    def __str__(self):
        return f"{self.contact_id} opted out of all email"


class LegalBasis(models.Model):
    """Record a legal basis to communicate with a contact, standing or one-time.

    A standing basis counts from `recorded_at` until revoked. A one-time basis covers one
    one-to-one email: it is consumed by the first send it allows (`consumed_for` holds that
    message's reference) and stops counting if the contact opts out after it was recorded.
    The explanation is required for both.
    """

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="legal_bases")
    basis = models.CharField(max_length=40, choices=LegalBasisKind.choices)
    explanation = models.TextField()
    one_time = models.BooleanField(default=False)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    recorded_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    consumed_at = models.DateTimeField(null=True, blank=True)
    consumed_for = models.CharField(max_length=255, blank=True)

    class Meta:
        verbose_name_plural = gettext_lazy("legal bases")
        indexes = [models.Index(fields=["contact", "-recorded_at"], name="legal_basis_contact")]
        constraints = [
            models.CheckConstraint(condition=~Q(explanation=""), name="legal_basis_explained"),
            models.CheckConstraint(
                condition=Q(one_time=True) | Q(consumed_at__isnull=True),
                name="legal_basis_only_one_time_consumed",
            ),
        ]

    def __str__(self):
        return f"{self.get_basis_display()} for {self.contact_id}"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and self.consumed_at is None


class PrivacyEvent(models.Model):
    """Append one entry to a contact's privacy history and the account's audit trail.

    Send decisions (allowed on a one-time basis, refused) are the audit trail proper; changes
    to subscriptions, bases and opt-outs make the contact's history. Rows are never updated.
    The contact link is SET_NULL so that deleting a contact does not delete the audit trail.
    """

    kind = models.CharField(max_length=30, choices=EventKind.choices)
    contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="privacy_events"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(default=timezone.now)
    sender_context = models.CharField(max_length=20, choices=SenderContext.choices, blank=True)
    message_ref = models.CharField(max_length=255, blank=True)
    reason = models.CharField(max_length=40, blank=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [
            # The audit list pages newest first, optionally by kind; history reads per contact.
            models.Index(fields=["-at", "-id"], name="privacy_event_at"),
            models.Index(fields=["kind", "-at"], name="privacy_event_kind_at"),
            models.Index(fields=["contact", "-at"], name="privacy_event_contact_at"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} at {self.at:%Y-%m-%d %H:%M}"

    @property
    def summary(self) -> str:
        """One line a person can read in the history and the audit trail."""
        d = self.details or {}

        def basis_label(value):
            return LegalBasisKind(value).label if value in LegalBasisKind.values else value

        def state_label(value):
            return SubscriptionState(value).label if value in SubscriptionState.values else value

        context = self.get_sender_context_display() if self.sender_context else _("Email")
        if self.kind == EventKind.SEND_ALLOWED_ONE_TIME:
            return _("%(context)s allowed on a one-time basis (%(basis)s): %(explanation)s") % {
                "context": context,
                "basis": basis_label(d.get("basis", "")),
                "explanation": d.get("explanation", ""),
            }
        if self.kind == EventKind.SEND_REFUSED:
            return _("%(context)s refused: %(message)s") % {
                "context": context,
                "message": d.get("message", self.reason),
            }
        if self.kind in (EventKind.BASIS_RECORDED, EventKind.ONE_TIME_BASIS_RECORDED):
            return (
                f"{self.get_kind_display()}: {basis_label(d.get('basis', ''))}. "
                f"{d.get('explanation', '')}"
            )
        if self.kind == EventKind.BASIS_REVOKED:
            revoked = (
                _("One-time legal basis revoked: %(basis)s")
                if d.get("one_time")
                else _("Legal basis revoked: %(basis)s")
            )
            return revoked % {"basis": basis_label(d.get("basis", ""))}
        if self.kind == EventKind.SUBSCRIPTION_CHANGED:
            change = _("%(subscription)s: %(old)s → %(new)s") % {
                "subscription": d.get("subscription_type", _("Subscription")),
                "old": state_label(d.get("old")),
                "new": state_label(d.get("new")),
            }
            if d.get("by_contact"):
                change = _("%(change)s by the contact") % {"change": change}
            basis = f" ({basis_label(d['legal_basis'])})" if d.get("legal_basis") else ""
            merged = (
                _(" (kept from a duplicate contact merged into this one)")
                if d.get("merged_from")
                else ""
            )
            return f"{change}{basis}{merged}"
        if self.kind == EventKind.OPTED_OUT_ALL:
            source = d.get("source", "")
            label = OptOutSource(source).label if source in OptOutSource.values else source
            return _("Opted out of all email (%(source)s)") % {"source": label}
        if self.kind == EventKind.OPT_OUT_ALL_LIFTED:
            return _(
                "Opt-out of all email lifted: the contact subscribed to %(subscription)s on "
                "their preferences page"
            ) % {"subscription": d.get("subscription_type", _("a subscription"))}
        if self.kind == EventKind.SETTINGS_CHANGED:
            if d.get("gdpr_enabled"):
                return _("Data privacy rules turned on")
            return _("Data privacy rules turned off")
        if self.kind == EventKind.SUBSCRIPTION_TYPE_CHANGED:
            name = d.get("name", "")
            if d.get("deleted"):
                return _("Subscription type %(name)s deleted") % {"name": name}
            if d.get("created"):
                return _("Subscription type %(name)s created") % {"name": name}
            return _("Subscription type %(name)s updated") % {"name": name}
        return self.get_kind_display()
