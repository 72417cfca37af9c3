"""What the builder allows: who changes a sequence, which sequences take enrollments, which
tokens a step may hold, and which steps live enrollments hold in place."""

import re

from django.db.models import Max
from django.utils.translation import gettext as _

from mailboxes.composer import tokens
from sequences.constants import EnrollmentStatus
from sequences.models import Enrollment, Sequence, StepRun

# Anything written like a token, known or not: `{{ … }}`.
_BRACES = re.compile(r"\{\{.*?\}\}", re.DOTALL)


def can_enroll_into(sequence: Sequence) -> str | None:
    """Why contacts can't be enrolled into `sequence` now, or None when they can."""
    if sequence.archived:
        return _("This sequence is archived: restore it before enrolling contacts.")
    if not sequence.steps.exists():
        return _("This sequence has no steps yet.")
    return None


def can_create(user) -> bool:
    """Every seat that may reach out builds sequences; a View-only seat only looks."""
    return user.can_reach_out


def can_change(user, sequence: Sequence) -> bool:
    """The owner edits, archives and restores a sequence; an admin any sequence."""
    return can_create(user) and (sequence.owner_id == user.pk or user.is_staff)


def unknown_tokens(text: str) -> list[str]:
    """The tokens in `text` the composer would not fill (tokens.TOKEN and tokens.FIELDS),
    each once, as written."""
    unknown: list[str] = []
    for written in _BRACES.findall(text):
        match = tokens.TOKEN.fullmatch(written)
        known = match is not None and match["field"] in tokens.FIELDS[match["kind"]]
        if not known and written not in unknown:
            unknown.append(written)
    return unknown


def live(sequence: Sequence):
    return Enrollment.objects.filter(sequence=sequence, status__in=EnrollmentStatus.live())


def held_steps(sequence: Sequence) -> int:
    """How many leading steps live enrollments have reached (run, or about to run): these keep
    their place, so every enrollment's `next_position`, its step runs and the steps it ran
    still name the same steps. Two queries."""
    enrolled = live(sequence)
    reached = enrolled.aggregate(n=Max("next_position"))["n"]
    ran = StepRun.objects.filter(enrollment__in=enrolled).aggregate(n=Max("position"))["n"]
    return max(reached or 0, (ran + 1) if ran is not None else 0)
