"""Running one step of one enrollment: the email queued through the enqueue service, or the
task created for the owner. Runs inside the tick's transaction, the enrollment locked and
re-checked (tick.py), and writes the step's `StepRun` first: its unique (enrollment,
position) makes a second run of the same step fail and roll back whatever it did.
"""

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils.translation import gettext as _

from mailboxes.composer import body, tokens
from mailboxes.constants import MailboxStatus, SendSource
from mailboxes.outbox.enqueue import OutgoingEmail, SendRefused, Source, email_enqueue
from mailboxes.preferences.defaults import Font
from privacy.constants import SenderContext
from records import timeline
from records.constants import ActivityKind, TaskStatus, TaskType

from .. import lifecycle
from ..constants import EndReason, EventKind, StepKind
from ..models import Enrollment, EnrollmentEvent, Step, StepRun
from . import reminders

TASK_TYPES = {
    StepKind.MANUAL_EMAIL: TaskType.EMAIL,
    StepKind.CALL: TaskType.CALL,
    StepKind.TASK: TaskType.TODO,
}


@dataclass(frozen=True)
class Rendered:
    subject: str
    html: str
    missing: list[str]


def _override(enrollment: Enrollment, step: Step, name: str) -> str:
    return enrollment.overrides.get(str(step.position), {}).get(name) or getattr(step, name)


def reply_subject(subject: str) -> str:
    return subject if subject[:3].lower() == "re:" else f"Re: {subject}"


# Tokens of records other than the contact and the sender: only they need its associations.
_ASSOCIATED = ("company.", "deal.", "ticket.")


def _names_associated(*texts: str) -> bool:
    return any(kind in text for text in texts for kind in _ASSOCIATED)


def token_context(enrollment: Enrollment, *texts: str) -> tokens.Context:
    """What the texts' tokens are filled from: the contact and the sender, and the contact's
    associated company, deal and ticket when a text may name them (a few queries)."""
    if _names_associated(*texts):
        return tokens.context_for(enrollment.enrolled_by, enrollment.contact)
    return tokens.Context(sender=enrollment.enrolled_by, contact=enrollment.contact)


def token_contexts(due: list[tuple[Enrollment, Step]]) -> dict[int, tokens.Context]:
    """`token_context` of many enrollments' email steps, by enrollment, for those whose texts
    may name an associated record: read together, in a few queries whatever their number
    (the others need none)."""
    named = [
        enrollment
        for enrollment, step in due
        if _names_associated(
            _override(enrollment, step, "subject"), _override(enrollment, step, "body")
        )
    ]
    contexts = tokens.contexts_for_contacts([(e.enrolled_by, e.contact) for e in named])
    return {e.pk: context for e, context in zip(named, contexts, strict=True)}


def render(
    enrollment: Enrollment,
    step: Step,
    font: Font,
    replying: bool,
    context: tokens.Context | None = None,
) -> Rendered:
    """The step's subject and body for this contact: tokens filled (from `context` when the
    caller read it already), in the sender's font. A reply without a subject of its own takes
    the previous email's, as "Re: …"."""
    subject = _override(enrollment, step, "subject")
    html = _override(enrollment, step, "body")
    context = context or token_context(enrollment, subject, html)
    subject, html = tokens.fill_text(subject, context), tokens.fill_html(html, context)
    missing = list(dict.fromkeys(subject.missing + html.missing))
    text = subject.text.strip()
    if not text and replying:
        text = reply_subject(enrollment.last_email.subject)
    return Rendered(text, body.in_font(html.text, font.style), missing)


def email_for(
    enrollment: Enrollment, step: Step, font: Font, context: tokens.Context | None = None
) -> OutgoingEmail | None:
    """The step's email for this enrollment, a reply in the enrollment's thread unless the
    step starts a new one; None when missing tokens or address, or an inbox not connected,
    paused the enrollment instead."""
    replying = not step.new_thread and enrollment.last_email is not None
    rendered = render(enrollment, step, font, replying, context)
    number = step.position + 1
    if not enrollment.contact.email:
        detail = _("Step %(n)s: the contact has no email address; add one, then resume.")
        lifecycle.pause(enrollment, detail % {"n": number})
        return None
    if enrollment.mailbox.status != MailboxStatus.CONNECTED:
        # Queued, it would only fail in the outbox: wait for the rep to reconnect the inbox.
        detail = _(
            "Step %(n)s: the From inbox %(inbox)s is not connected; reconnect it, then resume."
        )
        lifecycle.pause(enrollment, detail % {"n": number, "inbox": enrollment.mailbox.email})
        return None
    if rendered.missing:
        names = ", ".join(tokens.label(key) for key in rendered.missing)
        detail = _("Step %(n)s: no value for %(tokens)s; fill them in, then resume.")
        lifecycle.pause(enrollment, detail % {"n": number, "tokens": names})
        return None
    contact = enrollment.contact
    return OutgoingEmail(
        mailbox=enrollment.mailbox,
        from_address=enrollment.from_address,
        from_name=enrollment.enrolled_by.display_name,
        subject=rendered.subject,
        html=rendered.html,
        to=[contact.email],
        contacts=[contact],
        privacy_context=SenderContext.SEQUENCE,
        source=Source(SendSource.SEQUENCE, id=enrollment.pk, template_id=step.template_id),
        sender=enrollment.enrolled_by,
        thread=enrollment.thread if replying else None,
        reply_to=enrollment.last_email if replying else None,
    )


def step_run(enrollment: Enrollment, step: Step, now: datetime) -> StepRun:
    """The step's run, unsaved: written first, its unique (enrollment, position) makes a
    second run of the step fail."""
    return StepRun(enrollment=enrollment, position=step.position, kind=step.kind, ran_at=now)


def refused(enrollment: Enrollment, step: Step, refusal: SendRefused) -> str:
    """A privacy refusal ends the enrollment (its StepRun rolled back by the caller)."""
    why = " ".join(refusal.refusals)
    detail = _("Step %(n)s not sent: %(why)s") % {"n": step.position + 1, "why": why}
    lifecycle.end(enrollment, EndReason.UNSUBSCRIBED, detail)
    return "refused"


def queued(enrollment: Enrollment, step: Step, message, now: datetime) -> EnrollmentEvent:
    """Note the queued email on the enrollment; return its line of history, unsaved."""
    enrollment.thread, enrollment.last_email = message.thread, message
    detail = _("Step %(n)s: email queued, “%(subject)s”") % {
        "n": step.position + 1,
        "subject": message.subject,
    }
    return lifecycle.event(enrollment, EventKind.STEP_RAN, detail, position=step.position, at=now)


def run_email(enrollment: Enrollment, step: Step, font: Font, now: datetime) -> str:
    """Queue the step's email. Missing tokens or address pause the enrollment; a privacy
    refusal ends it."""
    email = email_for(enrollment, step, font)
    if email is None:
        return "paused"
    try:
        with transaction.atomic():  # the StepRun goes if the email is refused
            run = step_run(enrollment, step, now)
            run.save()
            message = email_enqueue(email)
            StepRun.objects.filter(pk=run.pk).update(outbound=message.outbound)
    except SendRefused as refusal:
        return refused(enrollment, step, refusal)
    queued(enrollment, step, message, now).save()
    return "email"


def run_task(enrollment: Enrollment, step: Step, now: datetime) -> str:
    """Create the step's task for the enrollment's owner, due now, on the contact. Unless the
    step goes on without it, the enrollment waits until it is completed."""
    run = StepRun.objects.create(
        enrollment=enrollment, position=step.position, kind=step.kind, ran_at=now
    )
    title = _override(enrollment, step, "task_title") or str(step.get_kind_display())
    title = tokens.fill_text(title, token_context(enrollment, title)).text
    task = timeline.log(
        ActivityKind.TASK,
        [enrollment.contact_id],
        created_by=enrollment.enrolled_by,
        occurred_at=now,
        title=title[:200],
        body=step.task_notes,
        task_type=TASK_TYPES[step.kind],
        status=TaskStatus.NOT_STARTED,
        due_at=now,
        assigned_to=enrollment.enrolled_by,
    )
    StepRun.objects.filter(pk=run.pk).update(task=task)
    if enrollment.sequence.task_reminders:
        reminders.remind(enrollment, task)
    if not step.continue_without_completing:
        enrollment.waiting_task = task
    detail = _("Step %(n)s: task created, “%(title)s”") % {"n": step.position + 1, "title": title}
    lifecycle.record(enrollment, EventKind.STEP_RAN, detail, position=step.position, at=now)
    return "task"
