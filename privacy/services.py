"""Writes of the privacy app. Each change leaves a PrivacyEvent: the contact's history, and for
send decisions the audit trail.

Errors a person can fix are raised as ValidationError with words meant for them (keyed by
form field where one applies), so views show them beside the field.
"""

from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from records.models import Contact, User

from .checks import Decision, can_email, can_email_many
from .constants import (
    EventKind,
    LegalBasisKind,
    OptOutSource,
    Reason,
    SenderContext,
    SubscriptionState,
)
from .models import (
    ContactOptOut,
    LegalBasis,
    PrivacyEvent,
    PrivacySettings,
    SubscriptionStatus,
    SubscriptionType,
)
from .selectors import gdpr_enabled, subscription_types_for_preferences
from .signals import withdrawn_on_commit

EXPLANATION_REQUIRED = gettext_lazy(
    "Explain why you may contact them (for example: sending the contract they asked for)."
)


def privacy_event_log(
    kind: str,
    contact: Contact | None,
    actor: User | None = None,
    *,
    sender_context: str = "",
    message_ref: str = "",
    reason: str = "",
    **details,
) -> PrivacyEvent:
    """Append an event to the contact's privacy history and the audit trail."""
    return PrivacyEvent.objects.create(
        kind=kind,
        contact=contact,
        actor=actor if actor is not None and actor.is_authenticated else None,
        sender_context=sender_context,
        message_ref=message_ref,
        reason=reason,
        details=details,
    )


def _lock(contact: Contact) -> None:
    # Serialises changes to one contact's privacy state (opt-out vs. re-subscribe races).
    Contact.objects.select_for_update().filter(pk=contact.pk).values_list("pk").first()


def _clean_basis(basis: str, explanation: str, basis_field: str = "basis") -> tuple[str, str]:
    errors = {}
    if basis not in LegalBasisKind.values:
        errors[basis_field] = _("Choose one of the legal bases.")
    explanation = (explanation or "").strip()
    if not explanation:
        errors["explanation"] = EXPLANATION_REQUIRED
    if errors:
        raise ValidationError(errors)
    return basis, explanation


def _basis_pk(value) -> int | None:
    if isinstance(value, LegalBasis):
        return value.pk
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@transaction.atomic
def authorize_send(
    contact: Contact,
    context: str,
    *,
    actor: User | None,
    message_ref: str,
    one_time_basis: "LegalBasis | int | str | None" = None,
    at: datetime | None = None,
) -> Decision:
    """Run the check for a send path and record what it decided.

    Call it when an email is submitted and again when it actually goes out, with the same
    `message_ref` (the outbound message's stable reference, e.g. its Message-ID). On an
    allow through a one-time basis, the basis is consumed for `message_ref` and the decision
    is audited once; the send-time re-check with the same reference is allowed again without a
    second entry. Every refusal is audited. Allows that need no one-time basis write nothing.
    """
    if not message_ref:
        raise ValueError("authorize_send needs the message's reference")
    context = SenderContext(context)
    basis = one_time_basis
    if one_time_basis is not None and context == SenderContext.ONE_TO_ONE:
        # Locked so that two messages racing for one basis cannot both consume it.
        pk = _basis_pk(one_time_basis)
        locked = LegalBasis.objects.select_for_update().filter(pk=pk).first() if pk else None
        basis = locked if locked is not None else one_time_basis
    decision = can_email(contact, context, at=at, one_time_basis=basis, message_ref=message_ref)
    moment = {"moment": at.isoformat()} if at is not None else {}
    if decision.allowed and decision.reason == Reason.ONE_TIME_BASIS:
        if basis.consumed_for != message_ref:
            basis.consumed_at = timezone.now()
            basis.consumed_for = message_ref
            basis.save(update_fields=["consumed_at", "consumed_for"])
            privacy_event_log(
                EventKind.SEND_ALLOWED_ONE_TIME,
                contact,
                actor,
                sender_context=context,
                message_ref=message_ref,
                reason=decision.reason,
                one_time_basis_id=basis.pk,
                basis=basis.basis,
                explanation=basis.explanation,
                message=decision.message,
                **moment,
            )
    elif not decision.allowed:
        _refusal_event(contact, context, actor, message_ref, decision, one_time_basis, at).save()
    return decision


def _refusal_event(contact, context, actor, message_ref, decision, one_time_basis, at):
    """The audit row of a refused send (unsaved)."""
    moment = {"moment": at.isoformat()} if at is not None else {}
    return PrivacyEvent(
        kind=EventKind.SEND_REFUSED,
        contact=contact,
        actor=actor if actor is not None and actor.is_authenticated else None,
        sender_context=context,
        message_ref=message_ref,
        reason=decision.reason,
        details={
            "message": decision.message,
            "fixes": list(decision.fixes),
            "basis_problem": decision.basis_problem,
            "one_time_basis_id": _basis_pk(one_time_basis),
            **moment,
        },
    )


@dataclass(frozen=True)
class SendRequest:
    """One contact of one email, as `authorize_send` takes it."""

    contact: Contact
    context: str
    actor: User | None
    message_ref: str
    one_time_basis: "LegalBasis | int | str | None" = None


@transaction.atomic
def authorize_send_many(requests: list[SendRequest]) -> list[Decision]:
    """`authorize_send` for many sends at once: the same decisions and the same audit rows, in
    a constant number of queries. A request with a one-time basis goes through `authorize_send`
    alone (its basis is locked and consumed); the others are decided in bulk (nothing is
    written for an allow) and their refusals written in one INSERT."""
    if any(not r.message_ref for r in requests):
        raise ValueError("authorize_send needs the message's reference")
    decisions: list[Decision | None] = [None] * len(requests)
    by_context: dict[str, list[int]] = {}
    for i, r in enumerate(requests):
        if r.one_time_basis is not None:
            decisions[i] = authorize_send(
                r.contact,
                r.context,
                actor=r.actor,
                message_ref=r.message_ref,
                one_time_basis=r.one_time_basis,
            )
        else:
            by_context.setdefault(SenderContext(r.context), []).append(i)
    refusals = []
    for context, indexes in by_context.items():
        decided = can_email_many([requests[i].contact for i in indexes], context)
        for i in indexes:
            r = requests[i]
            decisions[i] = decision = decided[r.contact.pk]
            if not decision.allowed:
                refusals.append(
                    _refusal_event(r.contact, context, r.actor, r.message_ref, decision, None, None)
                )
    PrivacyEvent.objects.bulk_create(refusals)
    return decisions


@transaction.atomic
def legal_basis_record(
    contact: Contact, actor: User | None, basis: str, explanation: str
) -> LegalBasis:
    """Record a standing legal basis to communicate with `contact`; the explanation is required.

    It counts for one-to-one and sequence email from now until revoked, but does not override
    an opt-out: the contact's wish wins.
    """
    return _basis_create(contact, actor, basis, explanation, one_time=False)


@transaction.atomic
def one_time_basis_record(
    contact: Contact, actor: User | None, basis: str, explanation: str
) -> LegalBasis:
    """Record a one-time legal basis covering one one-to-one email to `contact`.

    The explanation is required (ValidationError otherwise). The basis is consumed by the first
    send `authorize_send` allows with it, and stops counting if the contact opts out later.
    """
    return _basis_create(contact, actor, basis, explanation, one_time=True)


def _basis_create(contact, actor, basis: str, explanation: str, *, one_time: bool) -> LegalBasis:
    basis, explanation = _clean_basis(basis, explanation)
    row = LegalBasis.objects.create(
        contact=contact, basis=basis, explanation=explanation, recorded_by=actor, one_time=one_time
    )
    privacy_event_log(
        EventKind.ONE_TIME_BASIS_RECORDED if one_time else EventKind.BASIS_RECORDED,
        contact,
        actor,
        legal_basis_id=row.pk,
        basis=basis,
        explanation=explanation,
    )
    return row


@transaction.atomic
def legal_basis_revoke(legal_basis: LegalBasis, *, actor: User | None) -> LegalBasis:
    """Revoke a legal basis from now on; revoking twice changes nothing."""
    row = LegalBasis.objects.select_for_update().get(pk=legal_basis.pk)
    if row.revoked_at is not None:
        return row
    row.revoked_at = timezone.now()
    row.revoked_by = actor
    row.save(update_fields=["revoked_at", "revoked_by"])
    privacy_event_log(
        EventKind.BASIS_REVOKED,
        row.contact,
        actor,
        legal_basis_id=row.pk,
        basis=row.basis,
        one_time=row.one_time,
    )
    withdrawn_on_commit(row.contact_id, EventKind.BASIS_REVOKED)
    return row


@transaction.atomic
def subscription_set(
    contact: Contact,
    subscription_type: SubscriptionType,
    status: str,
    *,
    actor: User | None,
    legal_basis: str | None = None,
    explanation: str = "",
    by_contact: bool = False,
) -> SubscriptionStatus:
    """Set the contact's status for one subscription type.

    - Transactional cannot be subscribed to or opted out of; an inactive type takes no new
      subscriptions.
    - A rep cannot subscribe a contact who opted out (of all email or of this type), nor clear
      an opt-out: only the contact can, from their preferences page (`by_contact=True`), and
      subscribing there lifts an opt-out of all email.
    - A rep subscribing someone gives a legal basis and its explanation; with data privacy
      rules on, they are required. The contact's own subscription is consent.
    Setting the status the contact already has writes nothing.
    """
    try:
        status = SubscriptionState(status)
    except ValueError:
        raise ValidationError(
            {"status": _("Choose subscribed, opted out or not specified.")}
        ) from None
    if not subscription_type.accepts_status:
        raise ValidationError(
            _(
                "%(subscription)s email cannot be subscribed to or opted out of: it is sent to "
                "whoever it concerns."
            )
            % {"subscription": subscription_type.name}
        )
    if status == SubscriptionState.SUBSCRIBED and not subscription_type.is_active:
        raise ValidationError(
            _("%(subscription)s is no longer in use.") % {"subscription": subscription_type.name}
        )

    _lock(contact)
    row = SubscriptionStatus.objects.filter(
        contact=contact, subscription_type=subscription_type
    ).first()
    current = row.status if row else SubscriptionState.NOT_SPECIFIED
    opt_out = ContactOptOut.objects.filter(contact=contact).first()

    if by_contact:
        legal_basis = LegalBasisKind.CONSENT if status == SubscriptionState.SUBSCRIBED else ""
        explanation = explanation or (
            _("Subscribed on their email preferences page.")
            if status == SubscriptionState.SUBSCRIBED
            else ""
        )
    else:
        if status == SubscriptionState.SUBSCRIBED and (
            opt_out or current == SubscriptionState.OPTED_OUT
        ):
            if opt_out:
                words = _(
                    "%(name)s opted out of all email. Only they can subscribe again, from the "
                    "preferences link in the email they receive."
                )
            else:
                words = _(
                    "%(name)s opted out of %(subscription)s email. Only they can subscribe again, "
                    "from the preferences link in the email they receive."
                )
            raise ValidationError(
                words % {"name": contact.name, "subscription": subscription_type.name}
            )
        if status == SubscriptionState.NOT_SPECIFIED and current == SubscriptionState.OPTED_OUT:
            raise ValidationError(
                _("%(name)s opted out of %(subscription)s email; only they can change that.")
                % {"name": contact.name, "subscription": subscription_type.name}
            )
        if status == SubscriptionState.SUBSCRIBED:
            if legal_basis or gdpr_enabled():
                if not legal_basis:
                    raise ValidationError(
                        {"legal_basis": _("With data privacy rules on, choose the legal basis.")}
                    )
                legal_basis, explanation = _clean_basis(
                    legal_basis, explanation, basis_field="legal_basis"
                )
        else:
            legal_basis, explanation = "", ""

    lifts_opt_out = by_contact and status == SubscriptionState.SUBSCRIBED and opt_out is not None
    if current == status and not lifts_opt_out and row is not None:
        return row
    row, _created = SubscriptionStatus.objects.update_or_create(
        contact=contact,
        subscription_type=subscription_type,
        defaults={
            "status": status,
            "legal_basis": legal_basis or "",
            "legal_basis_explanation": explanation,
            "by_contact": by_contact,
            "updated_by": actor,
            "updated_at": timezone.now(),
        },
    )
    if current != status:
        privacy_event_log(
            EventKind.SUBSCRIPTION_CHANGED,
            contact,
            actor,
            subscription_type_id=subscription_type.pk,
            subscription_type=subscription_type.name,
            old=current,
            new=status,
            legal_basis=legal_basis or "",
            explanation=explanation,
            by_contact=by_contact,
        )
        if status == SubscriptionState.OPTED_OUT:
            withdrawn_on_commit(contact.pk, EventKind.SUBSCRIPTION_CHANGED)
    if lifts_opt_out:
        opt_out.delete()
        privacy_event_log(
            EventKind.OPT_OUT_ALL_LIFTED,
            contact,
            actor,
            subscription_type=subscription_type.name,
            opted_out_at=opt_out.opted_out_at.isoformat(),
        )
    return row


@transaction.atomic
def opt_out_of_all(contact: Contact, *, source: str, actor: User | None = None) -> ContactOptOut:
    """Opt the contact out of all email (not transactional). Doing it twice changes nothing.

    Reps record it on the contact's request (`source="rep"`); the preferences page and the
    one-click unsubscribe record it for the contact.
    """
    source = OptOutSource(source)
    _lock(contact)
    row, created = ContactOptOut.objects.get_or_create(
        contact=contact, defaults={"source": source, "actor": actor}
    )
    if created:
        privacy_event_log(EventKind.OPTED_OUT_ALL, contact, actor, source=source)
        withdrawn_on_commit(contact.pk, EventKind.OPTED_OUT_ALL)
    return row


@transaction.atomic
def preferences_update(contact: Contact, subscribed_type_ids: set[int]) -> list[str]:
    """Apply the contact's own choices from their preferences page; return what changed.

    A type ticked that was not subscribed is subscribed (lifting an opt-out of all email); a
    type unticked that was subscribed is opted out; an unticked "not specified" stays so.
    """
    statuses = {
        s.subscription_type_id: s.status for s in SubscriptionStatus.objects.filter(contact=contact)
    }
    opted_out_all = ContactOptOut.objects.filter(contact=contact).exists()
    changed = []
    for subscription_type in subscription_types_for_preferences():
        current = statuses.get(subscription_type.pk, SubscriptionState.NOT_SPECIFIED)
        ticked = subscription_type.pk in subscribed_type_ids
        if ticked and (current != SubscriptionState.SUBSCRIBED or opted_out_all):
            new = SubscriptionState.SUBSCRIBED
        elif not ticked and current == SubscriptionState.SUBSCRIBED:
            new = SubscriptionState.OPTED_OUT
        else:
            continue
        subscription_set(contact, subscription_type, new, actor=None, by_contact=True)
        opted_out_all = False if new == SubscriptionState.SUBSCRIBED else opted_out_all
        changed.append(subscription_type.name)
    return changed


# Settings (admins).


@transaction.atomic
def privacy_settings_update(*, actor: User, gdpr_enabled: bool) -> PrivacySettings:
    """Turn data privacy (GDPR) rules on or off for the account."""
    row = PrivacySettings.load()
    if row.gdpr_enabled != gdpr_enabled:
        row.gdpr_enabled = gdpr_enabled
        row.updated_by = actor
        row.save()
        privacy_event_log(EventKind.SETTINGS_CHANGED, None, actor, gdpr_enabled=gdpr_enabled)
    return row


@transaction.atomic
def subscription_type_save(subscription_type: SubscriptionType, *, actor: User) -> SubscriptionType:
    """Create or update a subscription type; built-in types cannot be deactivated."""
    if subscription_type.is_builtin and not subscription_type.is_active:
        raise ValidationError(
            {"is_active": _("Built-in subscription types cannot be deactivated.")}
        )
    created = subscription_type.pk is None
    subscription_type.save()
    privacy_event_log(
        EventKind.SUBSCRIPTION_TYPE_CHANGED,
        None,
        actor,
        subscription_type_id=subscription_type.pk,
        name=subscription_type.name,
        is_active=subscription_type.is_active,
        created=created,
    )
    return subscription_type


@transaction.atomic
def subscription_type_delete(subscription_type: SubscriptionType, *, actor: User) -> None:
    """Delete an unused, non-built-in subscription type; a used one must be deactivated."""
    if subscription_type.is_builtin:
        raise ValidationError(_("Built-in subscription types cannot be deleted."))
    if subscription_type.statuses.exists():
        raise ValidationError(
            _("Contacts have a status for this type, which their history needs: deactivate it.")
        )
    privacy_event_log(
        EventKind.SUBSCRIPTION_TYPE_CHANGED,
        None,
        actor,
        subscription_type_id=subscription_type.pk,
        name=subscription_type.name,
        deleted=True,
    )
    subscription_type.delete()
