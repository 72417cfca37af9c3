"""Running the rules: when a contact's properties change (records' `record_changed`, sent
after the edit or the creation committed), the enabled rules watching one of them for its new
value fire; when contacts are added to a saved list (records' `list_members_added`), the
enabled rules on that list fire for each of them.

An enroll rule enrolls through the enrollment service, so its preflight decides: a contact it
refuses is skipped, with its reasons in the firing log. An unenroll rule ends the contact's
live enrollment in the sequence through lifecycle. Each firing runs in its own transaction and
is logged; a rule that fails is logged as an error and never reaches the rep's edit.
"""

import logging

from django.db import transaction
from django.utils.translation import gettext as _

from mailboxes.preferences.defaults import default_from, own_addresses
from records.constants import RecordKind
from records.models import Contact
from records.signals import ListMembersAdded, RecordChanged, list_members_added, record_changed

from .. import lifecycle
from ..constants import EndReason, EnrollmentStatus, EventKind
from ..enrollment.services import EnrollRefused, Plan, enroll, steps_of
from ..enrollment.views import contact_zone
from ..models import Enrollment
from .models import Action, AutomationRule, Outcome, RuleFiring, Trigger
from .properties import PROPERTIES

log = logging.getLogger(__name__)


def on_record_changed(sender, event: RecordChanged, **kwargs) -> None:
    if event.kind != RecordKind.CONTACT:
        return
    fired = matching(event.changed)
    if not fired:
        return
    contact = Contact.objects.get(pk=event.record_id)
    for rule in fired:
        fire(rule, contact)


def matching(changed: dict[str, tuple]) -> list[AutomationRule]:
    """The enabled rules a change fires (one query, whatever the number of rules)."""
    rules = AutomationRule.objects.filter(
        enabled=True, trigger=Trigger.PROPERTY, property__in=list(changed)
    ).select_related("sequence", "owner")
    return [r for r in rules if _text(changed[r.property][1]) == r.value]


def on_list_members_added(sender, event: ListMembersAdded, **kwargs) -> None:
    """Each enabled rule on the list (one query, with their sequences and owners), for each
    contact newly added, in the order they came."""
    rules = list(
        AutomationRule.objects.filter(
            enabled=True, trigger=Trigger.LIST, contact_list_id=event.list_id
        ).select_related("sequence", "owner", "contact_list")
    )
    if not rules:
        return
    contacts = Contact.objects.in_bulk(event.contact_ids)
    for pk in event.contact_ids:
        if pk in contacts:
            for rule in rules:
                fire(rule, contacts[pk])


def _text(value) -> str:
    return "" if value is None else str(value).strip()


def fire(rule: AutomationRule, contact: Contact) -> RuleFiring:
    """Run `rule` for `contact` and log the firing."""
    try:
        with transaction.atomic():
            outcome, reason, enrollment = (
                _enroll(rule, contact) if rule.action == Action.ENROLL else _unenroll(rule, contact)
            )
    except Exception as error:  # noqa: BLE001 - whatever a rule hits, the edit stands
        log.exception("automation rule %s failed for contact %s", rule.pk, contact.pk)
        outcome, enrollment = Outcome.ERROR, None
        reason = _("The rule failed (%(error)s); nothing was changed.") % {
            "error": type(error).__name__
        }
    return RuleFiring.objects.create(
        rule=rule, contact=contact, outcome=outcome, reason=reason[:500], enrollment=enrollment
    )


def _enroll(rule: AutomationRule, contact: Contact):
    """Enroll as the rule's owner, from their default From, at the first step, sending now."""
    owner = rule.owner
    steps = steps_of(rule.sequence)
    choice = default_from(owner, own_addresses(owner))
    plan = Plan(
        contact=contact,
        time_zone=contact_zone(contact) or owner.time_zone,
        start_position=steps[0].position if steps else 0,
    )
    try:
        mailbox, address = (choice.mailbox, choice.address) if choice else (None, "")
        [enrollment] = enroll(owner, rule.sequence, [plan], mailbox, address)
    except EnrollRefused as refused:
        blockers = refused.blockers.get(contact.pk) or []
        reason = " ".join(b.message for b in blockers) or refused.message
        return Outcome.SKIPPED, reason, None
    # The enrollment's history (its timeline card) says which rule enrolled the contact.
    lifecycle.record(
        enrollment,
        EventKind.ENROLLED,
        _("By the automation rule “%(rule)s”.") % {"rule": describe(rule)},
        position=enrollment.next_position,
        actor=owner,
    )
    return Outcome.ENROLLED, "", enrollment


def _unenroll(rule: AutomationRule, contact: Contact):
    live = Enrollment.objects.filter(
        sequence=rule.sequence, contact=contact, status__in=EnrollmentStatus.live()
    )
    pk = live.values_list("pk", flat=True).first()
    enrollment = lifecycle.locked(pk) if pk is not None else None
    detail = _("Unenrolled by the automation rule “%(rule)s”.") % {"rule": describe(rule)}
    if enrollment is None or not lifecycle.end(enrollment, EndReason.AUTOMATION, detail):
        return Outcome.SKIPPED, _("Not enrolled in this sequence."), None
    return Outcome.UNENROLLED, "", enrollment


def describe(rule: AutomationRule) -> str:
    """ "Enroll when Lifecycle stage becomes Lead", "Enroll when added to the list “Fair”"."""
    if rule.trigger == Trigger.LIST:
        return _describe_list(rule)
    prop = PROPERTIES.get(rule.property)
    label = prop.label if prop else rule.property
    value = prop.value_label(rule.value) if prop else rule.value
    text = (
        _("Enroll when %(property)s becomes %(value)s")
        if rule.action == Action.ENROLL
        else _("Unenroll when %(property)s becomes %(value)s")
    )
    return text % {"property": label, "value": value}


def _describe_list(rule: AutomationRule) -> str:
    if rule.contact_list is None:
        return (
            _("Enroll when added to a list since deleted")
            if rule.action == Action.ENROLL
            else _("Unenroll when added to a list since deleted")
        )
    text = (
        _("Enroll when added to the list “%(list)s”")
        if rule.action == Action.ENROLL
        else _("Unenroll when added to the list “%(list)s”")
    )
    return text % {"list": rule.contact_list.name}


def connect() -> None:
    """Wire the receivers (sequences/apps.py ready())."""
    record_changed.connect(on_record_changed, dispatch_uid="sequences.automation")
    list_members_added.connect(on_list_members_added, dispatch_uid="sequences.automation.lists")
