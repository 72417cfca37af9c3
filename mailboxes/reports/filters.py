"""The reports page's choices, read from the query string and checked against what the user
may see (RPT, access: a rep their own numbers, a manager their team's, an admin everything).

A bad choice (a date that is not one, a period inverted or longer than MAX_DAYS, an unknown
grouping, a filter value the user is not offered) is an error in words; the page shows it
with the default numbers instead, and never a number the user may not see.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from urllib.parse import urlencode

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from mailboxes.constants import SendSource
from records.calendar.clock import Calendar
from records.constants import RecordAccess
from records.models import Team, User

MAX_DAYS = 731
DEFAULT_DAYS = 30
BUCKETS = {
    "day": gettext_lazy("Day"),
    "week": gettext_lazy("Week"),
    "month": gettext_lazy("Month"),
}
GROUPS = {
    "rep": gettext_lazy("Rep"),
    "team": gettext_lazy("Team"),
    "type": gettext_lazy("Email type"),
    "sequence": gettext_lazy("Sequence"),
    "step": gettext_lazy("Sequence step"),
    "template": gettext_lazy("Template"),
    "token": gettext_lazy("SMTP token or API key"),
}
TYPES = {
    SendSource.ONE_TO_ONE: gettext_lazy("One-to-one"),
    SendSource.SEQUENCE: gettext_lazy("Sequence"),
    SendSource.TRANSACTIONAL: gettext_lazy("Transactional"),
}
# The filters the page offers, each a query parameter holding an id (or a type).
FILTERS = ("rep", "team", "type", "sequence", "step", "template", "token")


class Scope:
    """Whose numbers a user may see."""

    ALL, TEAM, OWN = "all", "team", "own"

    @staticmethod
    def of(user: User) -> str:
        if user.is_staff or user.record_access == RecordAccess.ALL:
            return Scope.ALL
        if user.record_access == RecordAccess.TEAM and user.team_id:
            return Scope.TEAM
        return Scope.OWN


def scope_q(user: User) -> Q:
    """The rollup rows (by rep and team) the user may see."""
    scope = Scope.of(user)
    if scope == Scope.ALL:
        return Q()
    if scope == Scope.TEAM:
        return Q(team_id=user.team_id)
    return Q(rep_id=user.pk)


def reps_offered(user: User) -> dict[int, str]:
    scope = Scope.of(user)
    users = User.objects.order_by("first_name", "last_name", "username")
    if scope == Scope.TEAM:
        users = users.filter(team_id=user.team_id)
    elif scope == Scope.OWN:
        users = users.filter(pk=user.pk)
    return {u.pk: u.display_name for u in users}


def teams_offered(user: User) -> dict[int, str]:
    scope = Scope.of(user)
    if scope == Scope.ALL:
        return dict(Team.objects.values_list("pk", "name"))
    if user.team_id:
        return dict(Team.objects.filter(pk=user.team_id).values_list("pk", "name"))
    return {}


@dataclass
class Filters:
    start: date
    end: date
    bucket: str = "week"
    group: str = "rep"
    people_only: bool = True
    chosen: dict[str, str] = field(default_factory=dict)  # filter name -> raw value
    errors: list[str] = field(default_factory=list)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def query(self, **changes) -> str:
        """This page's query string, with `changes` (for links and the CSV)."""
        values = {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "bucket": self.bucket,
            "group": self.group,
            "bots": "" if self.people_only else "1",
            **self.chosen,
        }
        values.update(changes)
        return urlencode({k: v for k, v in values.items() if v})

    @classmethod
    def default(cls) -> Filters:
        today = timezone.localdate(timezone=Calendar.account_zone())
        return cls(start=today - timedelta(days=DEFAULT_DAYS - 1), end=today)

    @classmethod
    def from_query(cls, params) -> Filters:
        """Read the choices; each bad one is an error and falls back to its default."""
        f = cls.default()
        errors = []
        start, end = _date(params.get("start")), _date(params.get("end"))
        if params.get("start") and start is None or params.get("end") and end is None:
            errors.append(_("Dates are written YYYY-MM-DD."))
        elif start and end and start > end:
            errors.append(_("The period ends before it starts."))
        elif (start or end) and ((end or f.end) - (start or f.start)).days >= MAX_DAYS:
            errors.append(
                _("Choose a period of at most %(n)s days: a start and an end date.")
                % {"n": MAX_DAYS}
            )
        elif start or end:
            end = end or f.end
            f.start, f.end = start or end - timedelta(days=DEFAULT_DAYS - 1), end
        bucket = params.get("bucket") or f.bucket
        if bucket in BUCKETS:
            f.bucket = bucket
        else:
            errors.append(_("Unknown time step: choose day, week or month."))
        group = params.get("group") or f.group
        if group in GROUPS:
            f.group = group
        else:
            errors.append(_("Unknown grouping: choose one of the list."))
        f.people_only = params.get("bots") not in ("1", "on", "true")
        f.chosen = {name: params.get(name) for name in FILTERS if params.get(name)}
        f.errors = errors
        return f

    def check_values(self, offered: dict[str, dict]) -> Filters:
        """Drop (with an error) any filter value the user is not offered."""
        kept, errors = {}, list(self.errors)
        for name, value in self.chosen.items():
            if value in {str(k) for k in offered.get(name, {})}:
                kept[name] = value
            else:
                errors.append(
                    _("That %(filter)s is not one you can report on; showing all instead.")
                    % {"filter": FILTER_LABELS[name]}
                )
        return replace(self, chosen=kept, errors=errors)


FILTER_LABELS = {
    "rep": gettext_lazy("rep"),
    "team": gettext_lazy("team"),
    "type": gettext_lazy("email type"),
    "sequence": gettext_lazy("sequence"),
    "step": gettext_lazy("sequence step"),
    "template": gettext_lazy("template"),
    "token": gettext_lazy("token"),
}


def _date(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None
