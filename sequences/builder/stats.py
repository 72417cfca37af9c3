"""How each sequence is doing: its enrollments counted by status and by why they ended, in one
query whatever the number of sequences."""

from dataclasses import dataclass

from django.db.models import Count, Exists, OuterRef, Q

from sequences.constants import EndReason, EnrollmentStatus, StepKind
from sequences.models import Enrollment, StepRun


@dataclass(frozen=True)
class Counts:
    enrolled: int = 0
    active: int = 0  # active or paused
    finished: int = 0
    replied: int = 0
    bounced: int = 0
    unsubscribed: int = 0
    emailed: int = 0  # an automated email step ran for them
    replied_emailed: int = 0

    @property
    def reply_rate(self) -> float | None:
        """Replied ÷ enrolled contacts sent at least one automated email (None: none was)."""
        return self.replied_emailed / self.emailed if self.emailed else None


def _emailed():
    return Exists(StepRun.objects.filter(enrollment=OuterRef("pk"), kind=StepKind.AUTO_EMAIL))


def counts(sequence_ids) -> dict[int, Counts]:
    """Counts per sequence id (a sequence nobody was enrolled in has none: use Counts())."""
    replied = Q(end_reason=EndReason.REPLIED)
    emailed = Q(_emailed())
    rows = (
        Enrollment.objects.filter(sequence_id__in=list(sequence_ids))
        .values("sequence_id")
        .order_by()
        .annotate(
            enrolled=Count("pk"),
            active=Count("pk", filter=Q(status__in=EnrollmentStatus.live())),
            finished=Count("pk", filter=Q(status=EnrollmentStatus.FINISHED)),
            replied=Count("pk", filter=replied),
            bounced=Count("pk", filter=Q(end_reason=EndReason.BOUNCED)),
            unsubscribed=Count("pk", filter=Q(end_reason=EndReason.UNSUBSCRIBED)),
            emailed=Count("pk", filter=emailed),
            replied_emailed=Count("pk", filter=replied & emailed),
        )
    )
    return {row.pop("sequence_id"): Counts(**row) for row in rows}
