"""Choices and codes shared by the privacy app's models, the check, services and views."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class SenderContext(models.TextChoices):
    """Why an email is being sent; the check applies different rules to each."""

    ONE_TO_ONE = "one_to_one", _("One-to-one email")
    SEQUENCE = "sequence", _("Sequence email")
    TICKET_REPLY = "ticket_reply", _("Email from a ticket")
    TRANSACTIONAL = "transactional", _("Transactional email")


# Contexts that need no legal basis and carry no unsubscribe link.
EXEMPT_CONTEXTS = frozenset({SenderContext.TICKET_REPLY, SenderContext.TRANSACTIONAL})


class SubscriptionKind(models.TextChoices):
    ONE_TO_ONE = "one_to_one", _("One to one")
    TRANSACTIONAL = "transactional", _("Transactional")
    OTHER = "other", _("Other")


class SubscriptionState(models.TextChoices):
    # Named after HubSpot v4 `statusState` (SUBSCRIBED | UNSUBSCRIBED | NOT_SPECIFIED).
    SUBSCRIBED = "subscribed", _("Subscribed")
    OPTED_OUT = "opted_out", _("Opted out")
    NOT_SPECIFIED = "not_specified", _("Not specified")


class LegalBasisKind(models.TextChoices):
    """The six lawful bases of GDPR Art. 6(1), legitimate interest split as HubSpot does."""

    CONSENT = "consent", _("Consent")
    CONTRACT = "contract", _("Performance of a contract")
    LEGAL_OBLIGATION = "legal_obligation", _("Legal obligation")
    VITAL_INTERESTS = "vital_interests", _("Vital interests")
    PUBLIC_TASK = "public_task", _("Public task")
    LEGITIMATE_INTEREST_PROSPECT = (
        "legitimate_interest_prospect",
        _("Legitimate interest – prospect"),
    )
    LEGITIMATE_INTEREST_CLIENT = (
        "legitimate_interest_client",
        _("Legitimate interest – existing customer"),
    )


# HubSpot's `legalBasis` value for each of ours, for import/export through a
# HubSpot-compatible API. HubSpot has no value for legal obligation, vital interests or public
# task: those go out as LEGITIMATE_INTEREST_OTHER and the explanation carries the detail.
HUBSPOT_LEGAL_BASIS = {
    LegalBasisKind.CONSENT: "CONSENT_WITH_NOTICE",
    LegalBasisKind.CONTRACT: "PERFORMANCE_OF_CONTRACT",
    LegalBasisKind.LEGAL_OBLIGATION: "LEGITIMATE_INTEREST_OTHER",
    LegalBasisKind.VITAL_INTERESTS: "LEGITIMATE_INTEREST_OTHER",
    LegalBasisKind.PUBLIC_TASK: "LEGITIMATE_INTEREST_OTHER",
    LegalBasisKind.LEGITIMATE_INTEREST_PROSPECT: "LEGITIMATE_INTEREST_PQL",
    LegalBasisKind.LEGITIMATE_INTEREST_CLIENT: "LEGITIMATE_INTEREST_CLIENT",
}


class OptOutSource(models.TextChoices):
    PREFERENCES_PAGE = "preferences_page", _("Preferences page")
    ONE_CLICK = "one_click", _("One-click unsubscribe (mail client)")
    REP = "rep", _("Recorded by a rep on the contact's request")
    SPAM_REPORT = "spam_report", _("Spam report")
    API = "api", _("API")


class EventKind(models.TextChoices):
    SEND_ALLOWED_ONE_TIME = "send_allowed_one_time", _("Send allowed on a one-time basis")
    SEND_REFUSED = "send_refused", _("Send refused")
    BASIS_RECORDED = "basis_recorded", _("Legal basis recorded")
    ONE_TIME_BASIS_RECORDED = "one_time_basis_recorded", _("One-time legal basis recorded")
    BASIS_REVOKED = "basis_revoked", _("Legal basis revoked")
    SUBSCRIPTION_CHANGED = "subscription_changed", _("Subscription changed")
    OPTED_OUT_ALL = "opted_out_all", _("Opted out of all email")
    OPT_OUT_ALL_LIFTED = "opt_out_all_lifted", _("Opt-out of all email lifted by the contact")
    SETTINGS_CHANGED = "settings_changed", _("Privacy settings changed")
    SUBSCRIPTION_TYPE_CHANGED = "subscription_type_changed", _("Subscription type changed")


# The audit trail: decisions that let an email out on a one-time basis or stopped it.
DECISION_KINDS = (EventKind.SEND_ALLOWED_ONE_TIME, EventKind.SEND_REFUSED)


class Reason:
    """Stable reason codes of a `Decision`; callers and the audit trail key on these."""

    TRANSACTIONAL = "transactional"
    PRIVACY_OFF = "privacy_off"
    LEGAL_BASIS = "legal_basis"
    SUBSCRIBED = "subscribed"
    ONE_TIME_BASIS = "one_time_basis"
    OPTED_OUT = "opted_out"
    NO_LEGAL_BASIS = "no_legal_basis"


class Fix:
    """What a rep can do about a refusal; the composer shows one button per code."""

    ADD_SUBSCRIPTION = "add_subscription"
    ONE_TIME_BASIS = "one_time_basis"
    RECORD_LEGAL_BASIS = "record_legal_basis"


class BasisProblem:
    """Why a one-time basis handed to the check did not count."""

    NOT_FOUND = "not_found"  # no such one-time basis for this contact
    CONSUMED = "consumed"  # already used for another message
    REVOKED = "revoked"
    RECORDED_AFTER = "recorded_after"  # recorded after the moment checked
    OPTED_OUT_AFTER = "opted_out_after"  # the contact opted out after it was recorded
