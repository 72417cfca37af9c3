"""Enrolling contacts in a sequence: the preflight that says, per contact, what stops the
enrollment and how to fix it, and `enroll`, which writes every enrollment of a batch in one
transaction or none.

A plan (`Plan`) is one contact's enrollment as the rep set it up: the starting step, the time
zone, when the first step goes out, and this contact's edits of the steps (`overrides`, by
position: "delay_days", "subject", "body", "task_title"). The tick reads the same overrides.
"""

from dataclasses import dataclass, field
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.html import escape
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from mailboxes.composer import tokens
from mailboxes.constants import MailboxStatus, SendStatus
from mailboxes.models import BouncedAddress, Mailbox, Outbound, SendCounter
from mailboxes.models.outbound import DAY, window_start
from mailboxes.outbox.throttle import next_window_start
from privacy.checks import can_email_many
from privacy.constants import Reason, SenderContext
from records import timeline
from records.access import visible_to
from records.models import Association, Company, Contact, User, validate_time_zone

from .. import lifecycle
from ..constants import BULK_LIMIT, MAX_DELAY_DAYS, EnrollmentStatus, EventKind, StepKind
from ..models import Enrollment, Sequence, Step

# The timeline card of an enrollment (registered in sequences/apps.py).
SEQUENCE_ACTIVITY = "sequence"
OPEN_STATUSES = (MailboxStatus.CONNECTED, MailboxStatus.SYNCING)


class Code:
    """What stops one contact's enrollment (a preflight blocker)."""

    NO_EMAIL = "no_email"
    BOUNCED = "bounced"
    PRIVACY = "privacy"
    ENROLLED = "enrolled"
    NO_ACCESS = "no_access"
    INBOX_DISCONNECTED = "inbox_disconnected"
    INBOX_FULL = "inbox_full"
    MISSING_TOKEN = "missing_token"
    UNKNOWN_TOKEN = "unknown_token"


@dataclass(frozen=True)
class Blocker:
    code: str
    message: str
    fix: str


class EnrollRefused(Exception):
    """Nothing was enrolled: `message` says why for the whole batch, `blockers` per contact."""

    def __init__(self, message: str, blockers: dict[int, list[Blocker]] | None = None):
        super().__init__(message)
        self.message = message
        self.blockers = blockers or {}


@dataclass
class Plan:
    """One contact's enrollment as the rep set it up."""

    contact: Contact
    time_zone: str
    start_position: int = 0
    send_at: datetime | None = None  # None: "send now"
    overrides: dict[str, dict] = field(default_factory=dict)

    def step_value(self, step: Step, name: str):
        """The step's `name` for this contact: their edit, else the step's own."""
        return self.overrides.get(str(step.position), {}).get(name, getattr(step, name))


def steps_of(sequence: Sequence) -> list[Step]:
    return list(sequence.steps.order_by("position"))


def fill_token(text: str, key: str, value: str, *, html: bool) -> str:
    """`text` with every token naming `key` ("contact.first_name") replaced by `value`: what
    the rep typed for a token with no value, written into this contact's email only."""

    def replace(match) -> str:
        if f"{match['kind']}.{match['field']}" != key:
            return match.group(0)
        return escape(value) if html else value

    return tokens.TOKEN.sub(replace, text)


def _unknown(key: str) -> bool:
    kind, _sep, name = key.partition(".")
    return name not in tokens.FIELDS.get(kind, {})


def token_problems(plan: Plan, steps: list[Step], context: tokens.Context) -> dict[str, list]:
    """The tokens of this contact's emails with no value: {"missing": [keys], "unknown": […]}."""
    found: list[str] = []
    for step in steps:
        if step.position < plan.start_position or not step.is_email:
            continue
        for name, html in (("subject", False), ("body", True)):
            fill = tokens.fill_html if html else tokens.fill_text
            found += [
                k for k in fill(plan.step_value(step, name), context).missing if k not in found
            ]
    return {
        "missing": [k for k in found if not _unknown(k)],
        "unknown": [k for k in found if _unknown(k)],
    }


def token_contexts(user: User, contacts: list[Contact]) -> dict[int, tokens.Context]:
    """Each contact's token context (them, their first company), in one query for all."""
    companies = {}
    links = Association.objects.filter(
        from_record_id__in=[c.pk for c in contacts],
        to_record__in=visible_to(user, Company.objects.all()),
    ).order_by("created_at", "pk")
    company_ids = {}
    for from_id, to_id in links.values_list("from_record_id", "to_record_id"):
        company_ids.setdefault(from_id, to_id)
    if company_ids:
        companies = Company.objects.in_bulk(set(company_ids.values()))
    return {
        c.pk: tokens.Context(sender=user, contact=c, company=companies.get(company_ids.get(c.pk)))
        for c in contacts
    }


def inbox_usage(mailbox: Mailbox, now: datetime) -> int:
    """Recipients the inbox has used or is sure to use today (the throttle's day window, its
    queue of emails due today, and this inbox's sequence emails due today)."""
    day, next_day = window_start(DAY, now), next_window_start(DAY, now)
    used = (
        SendCounter.objects.filter(mailbox=mailbox, window=DAY, starts_at=day)
        .values_list("count", flat=True)
        .first()
        or 0
    )
    queued = Outbound.objects.filter(mailbox=mailbox, status=SendStatus.QUEUED).count()
    queued += Outbound.objects.filter(
        mailbox=mailbox, status=SendStatus.SCHEDULED, scheduled_at__lt=next_day
    ).count()
    email_step = Step.objects.filter(
        sequence=OuterRef("sequence"), position=OuterRef("next_position"), kind=StepKind.AUTO_EMAIL
    )
    due = Enrollment.objects.filter(
        Exists(email_step), mailbox=mailbox, status=EnrollmentStatus.ACTIVE, due_at__lt=next_day
    ).count()
    return used + queued + due


def validate_batch(sequence: Sequence, steps: list[Step], plans: list[Plan], now: datetime):
    """Refuse a batch no contact of could be enrolled in (raises EnrollRefused)."""
    if sequence.archived:
        raise EnrollRefused(_("This sequence is archived: restore it before enrolling anyone."))
    if not steps:
        raise EnrollRefused(_("This sequence has no steps yet: add one before enrolling."))
    if not plans:
        raise EnrollRefused(_("Choose at least one contact to enroll."))
    if len(plans) > BULK_LIMIT:
        raise EnrollRefused(
            _("At most %(limit)d contacts can be enrolled at once; %(count)d were chosen.")
            % {"limit": BULK_LIMIT, "count": len(plans)}
        )
    if len({p.contact.pk for p in plans}) != len(plans):
        raise EnrollRefused(_("A contact was chosen twice."))
    positions = {s.position for s in steps}
    for plan in plans:
        validate_plan(plan, positions, now)


def validate_plan(plan: Plan, positions: set[int], now: datetime) -> None:
    if plan.start_position not in positions:
        raise EnrollRefused(_("Choose a step of this sequence to start at."))
    validate_time_zone(plan.time_zone)
    if plan.send_at is not None and plan.send_at < now:
        raise EnrollRefused(_("The send-later time is in the past: choose a later one."))
    for values in plan.overrides.values():
        delay = values.get("delay_days")
        if delay is not None and not (0 <= int(delay) <= MAX_DELAY_DAYS):
            raise EnrollRefused(
                _("A delay must be between 0 and %(max)d days.") % {"max": MAX_DELAY_DAYS}
            )


def preflight(
    user: User,
    sequence: Sequence,
    plans: list[Plan],
    mailbox: Mailbox | None,
    *,
    now: datetime | None = None,
    steps: list[Step] | None = None,
) -> dict[int, list[Blocker]]:
    """Each contact's blockers (empty: may be enrolled), by contact id, in a fixed number of
    queries whatever the batch's size."""
    now = now or timezone.now()
    steps = steps if steps is not None else steps_of(sequence)
    contacts = [p.contact for p in plans]
    ids = [c.pk for c in contacts]
    visible = set(visible_to(user, Contact.objects.filter(pk__in=ids)).values_list("pk", flat=True))
    bounced = set(
        BouncedAddress.objects.filter(
            address__in=[c.email.lower() for c in contacts if c.email]
        ).values_list("address", flat=True)
    )
    live = dict(
        Enrollment.objects.filter(
            contact_id__in=ids, status__in=EnrollmentStatus.live()
        ).values_list("contact_id", "sequence__name")
    )
    decisions = can_email_many(contacts, SenderContext.SEQUENCE, at=now)
    contexts = token_contexts(user, contacts)
    inbox = _inbox_blockers(user, mailbox, plans, steps, now)
    blockers: dict[int, list[Blocker]] = {}
    for plan in plans:
        contact = plan.contact
        found = blockers.setdefault(contact.pk, [])
        if contact.pk not in visible:
            # Nothing else is said about a contact the user may not see.
            found.append(
                Blocker(
                    Code.NO_ACCESS,
                    _("You do not have access to this contact."),
                    _("Ask its owner or an admin to enroll it."),
                )
            )
            continue
        found += _contact_blockers(contact, bounced, live, decisions[contact.pk])
        found += inbox.get(contact.pk, [])
        found += _token_blockers(token_problems(plan, steps, contexts[contact.pk]))
    return blockers


def _contact_blockers(contact, bounced, live, decision) -> list[Blocker]:
    found = []
    if not contact.email:
        found.append(
            Blocker(
                Code.NO_EMAIL,
                _("This contact has no email address."),
                _("Add an email address to the contact."),
            )
        )
    elif contact.email.lower() in bounced:
        found.append(
            Blocker(
                Code.BOUNCED,
                _("%(address)s hard-bounced.") % {"address": contact.email},
                _("Give the contact a working address as its primary one."),
            )
        )
    if contact.email and not decision.allowed:
        fix = (
            _("Only the contact can lift an opt-out, on their preferences page: leave them out.")
            if decision.reason == Reason.OPTED_OUT
            else _("Record a legal basis or a subscription for the contact, if they gave one.")
        )
        found.append(Blocker(Code.PRIVACY, decision.message, fix))
    if contact.pk in live:
        found.append(
            Blocker(
                Code.ENROLLED,
                _("Already in the sequence “%(name)s”.") % {"name": live[contact.pk]},
                _("Unenroll the contact from it first, or remove them from this batch."),
            )
        )
    return found


def _inbox_blockers(user, mailbox, plans, steps, now) -> dict[int, list[Blocker]]:
    """Blockers of the From inbox, for the contacts they stop."""
    if mailbox is None or mailbox.owner_id != user.pk:
        blocker = Blocker(
            Code.INBOX_DISCONNECTED,
            _("No inbox of yours to send from."),
            _("Connect an inbox in Settings > Email > Connected inboxes."),
        )
        return {p.contact.pk: [blocker] for p in plans}
    if mailbox.status not in OPEN_STATUSES:
        blocker = Blocker(
            Code.INBOX_DISCONNECTED,
            _("The inbox %(address)s is disconnected.") % {"address": mailbox.email},
            _("Reconnect it in Settings > Email > Connected inboxes, or choose another From."),
        )
        return {p.contact.pk: [blocker] for p in plans}
    first = {s.position: s for s in steps}
    sending_now = [p for p in plans if p.send_at is None and first[p.start_position].is_email]
    if not sending_now or inbox_usage(mailbox, now) < mailbox.send_per_day:
        return {}
    blocker = Blocker(
        Code.INBOX_FULL,
        _("The inbox %(address)s reached its daily limit of %(limit)d.")
        % {"address": mailbox.email, "limit": mailbox.send_per_day},
        _("Send the first email later (tomorrow), or choose another From."),
    )
    return {p.contact.pk: [blocker] for p in sending_now}


def _token_blockers(problems: dict[str, list]) -> list[Blocker]:
    found = []
    for key in problems["missing"]:
        found.append(
            Blocker(
                Code.MISSING_TOKEN,
                _("%(token)s has no value for this contact.") % {"token": tokens.token_text(key)},
                _("Type a value for it, or give it a fallback in the email."),
            )
        )
    for key in problems["unknown"]:
        found.append(
            Blocker(
                Code.UNKNOWN_TOKEN,
                _("%(token)s is not a token this product knows.")
                % {"token": tokens.token_text(key)},
                _("Remove it from the email or fix its name."),
            )
        )
    return found


ALREADY_ENROLLED = gettext_lazy(
    "One of these contacts was enrolled in a sequence meanwhile; nobody was enrolled."
)


def enroll(
    user: User,
    sequence: Sequence,
    plans: list[Plan],
    mailbox: Mailbox | None,
    from_address: str = "",
    *,
    now: datetime | None = None,
) -> list[Enrollment]:
    """Enroll every contact of `plans`, or none: raises EnrollRefused with the blockers when
    any contact has one, or when another enrollment of one of them won the race."""
    now = now or timezone.now()
    try:
        with transaction.atomic():
            # Locks the sequence: an archive running beside this waits, or this sees it.
            sequence = Sequence.objects.select_for_update().get(pk=sequence.pk)
            steps = steps_of(sequence)
            validate_batch(sequence, steps, plans, now)
            blockers = preflight(user, sequence, plans, mailbox, now=now, steps=steps)
            if any(blockers.values()):
                raise EnrollRefused(
                    _("Some contacts cannot be enrolled; nobody was enrolled."), blockers
                )
            return _write(user, sequence, plans, mailbox, from_address or mailbox.email, now)
    except IntegrityError as error:
        # The unique live-enrollment index: another request enrolled one of them first.
        raise EnrollRefused(str(ALREADY_ENROLLED)) from error


def _write(user, sequence, plans, mailbox, from_address, now) -> list[Enrollment]:
    """The batch's timeline cards and enrollments in a few statements, then each one's line
    of history."""
    activity_ids = timeline.log_many(
        SEQUENCE_ACTIVITY,
        [timeline.Entry([p.contact.pk], now, user.pk) for p in plans],
        now=now,
    )
    enrollments = Enrollment.objects.bulk_create(
        [
            Enrollment(
                sequence=sequence,
                contact=plan.contact,
                enrolled_by=user,
                mailbox=mailbox,
                from_address=from_address,
                time_zone=plan.time_zone,
                next_position=plan.start_position,
                due_at=plan.send_at or now,
                overrides=plan.overrides,
                activity_id=activity_id,
                started_at=now,
            )
            for plan, activity_id in zip(plans, activity_ids, strict=True)
        ]
    )
    for enrollment in enrollments:
        lifecycle.record(
            enrollment,
            EventKind.ENROLLED,
            _("Enrolled by %(name)s, starting at step %(step)d.")
            % {"name": user.display_name, "step": enrollment.next_position + 1},
            position=enrollment.next_position,
            actor=user,
            at=now,
        )
    return enrollments
