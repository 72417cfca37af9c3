"""The one check every send path calls: may this contact be emailed in this context, now?

`can_email` only reads. `services.authorize_send` wraps it for send paths: it consumes a
one-time basis and writes the audit trail.

The rules, in order:
- Transactional email and email sent from a ticket need no basis (reason "transactional").
- A contact who opted out of all email, or of the One to one subscription type, is "opted
  out". A one-to-one email to them needs a one-time legal basis recorded after the opt-out,
  whatever the privacy setting. Sequences are automated and never take a one-time
  basis: an opted-out contact cannot be sequenced.
- Otherwise, with privacy off, anything goes ("privacy_off").
- With privacy on, a standing legal basis or the One to one subscription allows one-to-one and
  sequence email; a one-time basis allows one one-to-one email.

`at` dates the legal bases (one recorded after it, or revoked before it, does not count).
Opt-outs are always read as they stand now: an opt-out is honoured as soon as it is known,
whatever moment is asked about.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db.models import OuterRef, Q, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from records.models import Contact

from .constants import (
    EXEMPT_CONTEXTS,
    BasisProblem,
    Fix,
    LegalBasisKind,
    Reason,
    SenderContext,
    SubscriptionKind,
    SubscriptionState,
)
from .models import ContactOptOut, LegalBasis, SubscriptionStatus
from .selectors import gdpr_enabled

__all__ = ["Decision", "SenderContext", "can_email", "can_email_many"]


@dataclass(frozen=True)
class Decision:
    """The answer of the check: allowed or not, a stable reason code, words for the rep, and
    the fixes the rep may apply (codes of `constants.Fix`)."""

    allowed: bool
    reason: str
    message: str
    fixes: tuple[str, ...] = ()
    one_time_basis_id: int | None = None  # the one-time basis that allowed the send
    basis_problem: str = ""  # why a one-time basis handed in did not count


@dataclass(frozen=True)
class _State:
    gdpr_enabled: bool
    opted_out_all_at: datetime | None
    one_to_one_status: str
    one_to_one_updated_at: datetime | None
    standing_basis: str  # the newest valid standing basis' kind, "" if none

    @property
    def opted_out(self) -> bool:
        return (
            self.opted_out_all_at is not None
            or self.one_to_one_status == SubscriptionState.OPTED_OUT
        )

    @property
    def last_opt_out_at(self) -> datetime | None:
        moments = [self.opted_out_all_at]
        if self.one_to_one_status == SubscriptionState.OPTED_OUT:
            moments.append(self.one_to_one_updated_at)
        moments = [m for m in moments if m is not None]
        return max(moments) if moments else None


def _states(contact_ids: Iterable[int], at: datetime) -> dict[int, _State]:
    """Read what the check needs for many contacts in one query (plus the setting)."""
    gdpr = gdpr_enabled()
    one_to_one = SubscriptionStatus.objects.filter(
        contact=OuterRef("pk"), subscription_type__kind=SubscriptionKind.ONE_TO_ONE
    )
    standing = (
        LegalBasis.objects.filter(contact=OuterRef("pk"), one_time=False, recorded_at__lte=at)
        .filter(Q(revoked_at__isnull=True) | Q(revoked_at__gt=at))
        .order_by("-recorded_at", "-pk")
    )
    rows = (
        Contact.objects.filter(pk__in=list(contact_ids))
        .annotate(
            _opted_out_all_at=Subquery(
                ContactOptOut.objects.filter(contact=OuterRef("pk")).values("opted_out_at")[:1]
            ),
            _o2o_status=Subquery(one_to_one.values("status")[:1]),
            _o2o_updated_at=Subquery(one_to_one.values("updated_at")[:1]),
            _standing=Subquery(standing.values("basis")[:1]),
        )
        .values_list("pk", "_opted_out_all_at", "_o2o_status", "_o2o_updated_at", "_standing")
    )
    return {
        pk: _State(
            gdpr_enabled=gdpr,
            opted_out_all_at=opted_out_at,
            one_to_one_status=status or SubscriptionState.NOT_SPECIFIED,
            one_to_one_updated_at=updated_at,
            standing_basis=standing_basis or "",
        )
        for pk, opted_out_at, status, updated_at, standing_basis in rows
    }


def _load_basis(one_time_basis) -> LegalBasis | None:
    if one_time_basis is None or isinstance(one_time_basis, LegalBasis):
        return one_time_basis
    try:
        pk = int(one_time_basis)
    except (TypeError, ValueError):
        return None
    return LegalBasis.objects.filter(pk=pk).first()


def _basis_problem(basis, contact, state: _State, at: datetime, message_ref: str) -> str:
    if basis is None or basis.contact_id != contact.pk or not basis.one_time:
        return BasisProblem.NOT_FOUND
    if basis.recorded_at > at:
        return BasisProblem.RECORDED_AFTER
    if basis.revoked_at is not None and basis.revoked_at <= at:
        return BasisProblem.REVOKED
    # A consumed basis still answers the send-time re-check of the message it was used for.
    if basis.consumed_at is not None and (not message_ref or basis.consumed_for != message_ref):
        return BasisProblem.CONSUMED
    last_opt_out = state.last_opt_out_at
    if last_opt_out is not None and last_opt_out > basis.recorded_at:
        return BasisProblem.OPTED_OUT_AFTER
    return ""


_PROBLEM_WORDS = {
    BasisProblem.NOT_FOUND: gettext_lazy(
        "The one-time legal basis given is not one of this contact's."
    ),
    BasisProblem.CONSUMED: gettext_lazy(
        "The one-time legal basis given was already used for another email."
    ),
    BasisProblem.REVOKED: gettext_lazy("The one-time legal basis given was revoked."),
    BasisProblem.RECORDED_AFTER: gettext_lazy(
        "The one-time legal basis given was recorded after this moment."
    ),
    BasisProblem.OPTED_OUT_AFTER: gettext_lazy(
        "The contact opted out after the one-time legal basis was recorded."
    ),
}


def _opted_out_words(contact, state: _State) -> str:
    if state.opted_out_all_at is not None:
        return _("%(name)s opted out of all email.") % {"name": contact.name}
    return _("%(name)s opted out of One to one email.") % {"name": contact.name}


def _standing_allow(contact, state: _State) -> Decision | None:
    """The allow that needs no one-time basis, for a contact who has not opted out."""
    name = contact.name
    if not state.gdpr_enabled:
        return Decision(
            True,
            Reason.PRIVACY_OFF,
            _("Data privacy rules are off and %(name)s has not opted out.") % {"name": name},
        )
    if state.standing_basis:
        label = LegalBasisKind(state.standing_basis).label
        return Decision(
            True,
            Reason.LEGAL_BASIS,
            _("%(name)s has a legal basis: %(basis)s.") % {"name": name, "basis": label},
        )
    if state.one_to_one_status == SubscriptionState.SUBSCRIBED:
        return Decision(
            True,
            Reason.SUBSCRIBED,
            _("%(name)s is subscribed to One to one email.") % {"name": name},
        )
    return None


def _decide(
    contact, context: str, state: _State, at: datetime, one_time_basis, message_ref: str
) -> Decision:
    name = contact.name
    allow = None if state.opted_out else _standing_allow(contact, state)
    if allow is not None:
        return allow

    if context == SenderContext.SEQUENCE:
        if state.opted_out:
            return Decision(
                False,
                Reason.OPTED_OUT,
                _opted_out_words(contact, state) + " " + _("They can't be sent sequence email."),
            )
        return Decision(
            False,
            Reason.NO_LEGAL_BASIS,
            _(
                "Data privacy rules are on and %(name)s has no legal basis to communicate. Record "
                "a legal basis or add the One to one subscription before sending sequence email."
            )
            % {"name": name},
            fixes=(Fix.ADD_SUBSCRIPTION, Fix.RECORD_LEGAL_BASIS),
        )

    # One-to-one email that needs a one-time basis.
    problem = ""
    if one_time_basis is not None:
        basis = _load_basis(one_time_basis)
        problem = _basis_problem(basis, contact, state, at, message_ref)
        if not problem:
            return Decision(
                True,
                Reason.ONE_TIME_BASIS,
                _("A one-time legal basis (%(basis)s) covers this email.")
                % {"basis": basis.get_basis_display()},
                one_time_basis_id=basis.pk,
            )
    suffix = f" {_PROBLEM_WORDS[problem]}" if problem else ""
    if state.opted_out:
        return Decision(
            False,
            Reason.OPTED_OUT,
            _opted_out_words(contact, state)
            + " "
            + _(
                "To send this one email, provide a one-time legal basis and explain why you may "
                "contact them (for example, to send a contract or an invoice)."
            )
            + suffix,
            fixes=(Fix.ONE_TIME_BASIS,),
            basis_problem=problem,
        )
    return Decision(
        False,
        Reason.NO_LEGAL_BASIS,
        _(
            "Data privacy rules are on and %(name)s has no legal basis to communicate. Add the "
            "One to one subscription, or provide a one-time legal basis for this email."
        )
        % {"name": name}
        + suffix,
        fixes=(Fix.ADD_SUBSCRIPTION, Fix.ONE_TIME_BASIS, Fix.RECORD_LEGAL_BASIS),
        basis_problem=problem,
    )


def _exempt() -> Decision:
    return Decision(
        True,
        Reason.TRANSACTIONAL,
        _("Transactional email and email sent from a ticket need no legal basis."),
    )


def can_email(
    contact: Contact,
    context: str,
    *,
    at: datetime | None = None,
    one_time_basis: "LegalBasis | int | str | None" = None,
    message_ref: str = "",
) -> Decision:
    """Decide whether `contact` may be emailed in `context` at the moment `at` (default now).

    Pure: reads only. `one_time_basis` (a LegalBasis or its id, as the composer posts it)
    counts only for one-to-one email, only if it is this contact's, unconsumed (or consumed
    for `message_ref`, at the send-time re-check), not revoked, recorded by `at`, and no
    opt-out came after it. Raises ValueError for an unknown context.
    """
    context = SenderContext(context)
    if context in EXEMPT_CONTEXTS:
        return _exempt()
    at = at or timezone.now()
    state = _states([contact.pk], at)[contact.pk]
    return _decide(contact, context, state, at, one_time_basis, message_ref)


def can_email_many(
    contacts: Iterable[Contact], context: str, *, at: datetime | None = None
) -> dict[int, Decision]:
    """Decide for many contacts at once (bulk enrollment), in two queries; no one-time bases."""
    context = SenderContext(context)
    contacts = list(contacts)
    if context in EXEMPT_CONTEXTS:
        exempt = _exempt()
        return {c.pk: exempt for c in contacts}
    at = at or timezone.now()
    states = _states([c.pk for c in contacts], at)
    return {c.pk: _decide(c, context, states[c.pk], at, None, "") for c in contacts}
