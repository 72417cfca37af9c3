"""Help-desk inboxes' response times for the reports page: per inbox and per person, the
conversations started in the period, how many were answered, the average first-response time
(working minutes, as the inbox counts them) and the share answered within the inbox's target.
Read from the conversations' stored response times, never from messages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time

from django.db.models import Avg, Count, F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from mailboxes.constants import TeamInboxKind
from mailboxes.models import Conversation
from mailboxes.reports.filters import Filters, Scope
from mailboxes.reports.query import rate
from records.calendar.clock import Calendar
from records.models import User


@dataclass
class ResponseRow:
    label: str
    conversations: int
    answered: int
    average_minutes: float | None
    within_target: int
    with_target: int  # conversations whose inbox has a target

    @property
    def within_target_rate(self) -> float | None:
        return rate(self.within_target, self.with_target)


def _scope(user: User) -> Q:
    scope = Scope.of(user)
    if scope == Scope.ALL:
        return Q()
    if scope == Scope.TEAM:
        return Q(assignee__team_id=user.team_id) | Q(
            assignee__isnull=True, assignee_team_id=user.team_id
        )
    return Q(assignee_id=user.pk)


def response_times(user: User, f: Filters) -> dict[str, list[ResponseRow]]:
    zone = Calendar.account_zone()  # the same days as the rollups
    start = timezone.make_aware(datetime.combine(f.start, time.min), zone)
    end = timezone.make_aware(datetime.combine(f.end, time.max), zone)
    qs = Conversation.objects.filter(
        _scope(user),
        mailbox__team_inbox__kind=TeamInboxKind.HELP_DESK,
        created_at__gte=start,
        created_at__lte=end,
    )
    if "rep" in f.chosen:
        qs = qs.filter(assignee_id=int(f.chosen["rep"]))
    if "team" in f.chosen:
        qs = qs.filter(assignee__team_id=int(f.chosen["team"]))
    target = F("mailbox__team_inbox__response_target_minutes")
    measures = dict(
        conversations=Count("pk"),
        answered=Count("pk", filter=Q(first_response_minutes__isnull=False)),
        average=Avg("first_response_minutes"),
        within=Count("pk", filter=Q(first_response_minutes__lte=target)),
        with_target=Count(
            "pk", filter=Q(mailbox__team_inbox__response_target_minutes__isnull=False)
        ),
    )
    out = {}
    for key, field_name, label_of in (
        ("inbox", "mailbox__team_inbox__name", lambda v: v),
        ("person", "assignee_id", None),
    ):
        rows = list(qs.values(field_name).annotate(**measures).order_by(field_name))
        if label_of is None:
            people = {
                u.pk: u.display_name
                for u in User.objects.filter(pk__in=[r[field_name] for r in rows if r[field_name]])
            }

            def label_of(v, people=people):
                return people.get(v) or _("Unassigned")

        out[key] = [
            ResponseRow(
                str(label_of(r[field_name])),
                r["conversations"],
                r["answered"],
                round(r["average"], 1) if r["average"] is not None else None,
                r["within"],
                r["with_target"],
            )
            for r in rows
        ]
    return out
