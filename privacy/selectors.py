"""Reads the privacy pages need: a contact's preferences overview and the audit trail."""

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.db.models import Q, QuerySet
from django.utils import timezone

from records.models import Contact

from .constants import DECISION_KINDS, SubscriptionKind, SubscriptionState
from .models import (
    ContactOptOut,
    LegalBasis,
    PrivacyEvent,
    PrivacySettings,
    SubscriptionStatus,
    SubscriptionType,
)


def gdpr_enabled() -> bool:
    """Tell whether data privacy rules are on; no settings row yet means off. Never writes."""
    return bool(PrivacySettings.objects.filter(pk=1).values_list("gdpr_enabled", flat=True).first())


def subscription_types_for_preferences() -> QuerySet:
    """Return the types offered on the preferences page: active, not transactional."""
    return SubscriptionType.objects.filter(is_active=True).exclude(
        kind=SubscriptionKind.TRANSACTIONAL
    )


@dataclass
class SubscriptionRow:
    subscription_type: SubscriptionType
    status: str  # a SubscriptionState value
    row: SubscriptionStatus | None

    @property
    def status_label(self) -> str:
        return SubscriptionState(self.status).label

    @property
    def is_transactional(self) -> bool:
        return self.subscription_type.kind == SubscriptionKind.TRANSACTIONAL


@dataclass
class PrivacyOverview:
    contact: Contact
    gdpr_enabled: bool
    opt_out: ContactOptOut | None
    subscriptions: list[SubscriptionRow]
    bases: list[LegalBasis]  # active: not revoked, and for one-time ones not consumed
    events: list[PrivacyEvent] = field(default_factory=list)

    @property
    def opted_out_of_one_to_one(self) -> bool:
        return any(
            r.subscription_type.kind == SubscriptionKind.ONE_TO_ONE
            and r.status == SubscriptionState.OPTED_OUT
            for r in self.subscriptions
        )

    @property
    def subscribable_types(self) -> list[SubscriptionType]:
        """Types a rep may subscribe the contact to: none once they opted out of all email."""
        if self.opt_out is not None:
            return []
        return [
            r.subscription_type
            for r in self.subscriptions
            if not r.is_transactional
            and r.subscription_type.is_active
            and r.status != SubscriptionState.OPTED_OUT
        ]

    @property
    def settable_types(self) -> list[SubscriptionType]:
        return [r.subscription_type for r in self.subscriptions if not r.is_transactional]


def contact_privacy_overview(contact: Contact, *, history: int = 10) -> PrivacyOverview:
    """Read everything the record page's privacy panel shows, in a fixed number of queries."""
    statuses = {
        s.subscription_type_id: s
        for s in SubscriptionStatus.objects.filter(contact=contact).select_related("updated_by")
    }
    types = SubscriptionType.objects.filter(Q(is_active=True) | Q(pk__in=list(statuses)))
    rows = [
        SubscriptionRow(
            t,
            statuses[t.pk].status if t.pk in statuses else SubscriptionState.NOT_SPECIFIED,
            statuses.get(t.pk),
        )
        for t in types
    ]
    bases = list(
        LegalBasis.objects.filter(
            contact=contact, revoked_at__isnull=True, consumed_at__isnull=True
        )
        .select_related("recorded_by")
        .order_by("-recorded_at", "-pk")
    )
    events = list(
        PrivacyEvent.objects.filter(contact=contact)
        .select_related("actor")
        .order_by("-at", "-pk")[:history]
    )
    return PrivacyOverview(
        contact=contact,
        gdpr_enabled=gdpr_enabled(),
        opt_out=ContactOptOut.objects.filter(contact=contact).select_related("actor").first(),
        subscriptions=rows,
        bases=bases,
        events=events,
    )


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def audit_events(
    *,
    start: date | None = None,
    end: date | None = None,
    kind: str = "decisions",
    contact: str = "",
) -> QuerySet:
    """Return the audit trail newest first: send decisions by default, `kind="all"` for all.

    Dates are whole days in the current time zone, `end` included. `contact` is a contact id
    or words matched against names and addresses.
    """
    qs = PrivacyEvent.objects.select_related("contact", "actor").order_by("-at", "-id")
    if kind == "decisions":
        qs = qs.filter(kind__in=DECISION_KINDS)
    elif kind and kind != "all":
        qs = qs.filter(kind=kind)
    if start:
        qs = qs.filter(at__gte=_day_start(start))
    if end:
        qs = qs.filter(at__lt=_day_start(end) + timedelta(days=1))
    contact = contact.strip()
    if contact.isdigit():
        qs = qs.filter(contact_id=int(contact))
    elif contact:
        for word in contact.lower().split():
            qs = qs.filter(contact__search_text__contains=word)
    return qs
