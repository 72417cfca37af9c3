"""Choices and codes shared by the privacy app's models, the check, services and views."""

from django.db import models


class SenderContext(models.TextChoices):
    """Why an email is being sent; the check applies different rules to each."""

    ONE_TO_ONE = "one_to_one", "One-to-one email"
    SEQUENCE = "sequence", "Sequence email"
    TICKET_REPLY = "ticket_reply", "Email from a ticket"
    TRANSACTIONAL = "transactional", "Transactional email"


# Contexts that need no legal basis and carry no unsubscribe link.
EXEMPT_CONTEXTS = frozenset({SenderContext.TICKET_REPLY, SenderContext.TRANSACTIONAL})


class SubscriptionKind(models.TextChoices):
    ONE_TO_ONE = "one_to_one", "One to one"
    TRANSACTIONAL = "transactional", "Transactional"
    OTHER = "other", "Other"


class SubscriptionState(models.TextChoices):
    # Named after HubSpot v4 `statusState` (SUBSCRIBED | UNSUBSCRIBED | NOT_SPECIFIED).
    SUBSCRIBED = "subscribed", "Subscribed"
    OPTED_OUT = "opted_out", "Opted out"
    NOT_SPECIFIED = "not_specified", "Not specified"


class LegalBasisKind(models.TextChoices):
    """The six lawful bases of GDPR Art. 6(1), legitimate interest split as HubSpot does."""

    CONSENT = "consent", "Consent"
    CONTRACT = "contract", "Performance of a contract"
    LEGAL_OBLIGATION = "legal_obligation", "Legal obligation"
    VITAL_INTERESTS = "vital_interests", "Vital interests"
    PUBLIC_TASK = "public_task", "Public task"
    LEGITIMATE_INTEREST_PROSPECT = "legitimate_interest_prospect", "Legitimate interest – prospect"
    LEGITIMATE_INTEREST_CLIENT = (
        "legitimate_interest_client",
        "Legitimate interest – existing customer",
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
    PREFERENCES_PAGE = "preferences_page", "Preferences page"
    ONE_CLICK = "one_click", "One-click unsubscribe (mail client)"
    REP = "rep", "Recorded by a rep on the contact's request"
    SPAM_REPORT = "spam_report", "Spam report"
    API = "api", "API"


class EventKind(models.TextChoices):
    SEND_ALLOWED_ONE_TIME = "send_allowed_one_time", "Send allowed on a one-time basis"
    SEND_REFUSED = "send_refused", "Send refused"
    BASIS_RECORDED = "basis_recorded", "Legal basis recorded"
    ONE_TIME_BASIS_RECORDED = "one_time_basis_recorded", "One-time legal basis recorded"
    BASIS_REVOKED = "basis_revoked", "Legal basis revoked"
    SUBSCRIPTION_CHANGED = "subscription_changed", "Subscription changed"
    OPTED_OUT_ALL = "opted_out_all", "Opted out of all email"
    OPT_OUT_ALL_LIFTED = "opt_out_all_lifted", "Opt-out of all email lifted by the contact"
    SETTINGS_CHANGED = "settings_changed", "Privacy settings changed"
    SUBSCRIPTION_TYPE_CHANGED = "subscription_type_changed", "Subscription type changed"


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
