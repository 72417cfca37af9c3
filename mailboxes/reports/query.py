"""The numbers of the reports page (and of its CSV) for one user's choices, read from the
per-day rollups only: one query for the time series, one for the groups, one for the filter
values the user is offered.

Rates are over delivered email (sent minus bounced; bounces are a rate of their own, over
sent). With `people_only` (the default) opens and clicks are those of people; without it,
those of scanners, privacy proxies and pre-fetchers too. Opens of email opened through a
privacy proxy are estimates: the proxy fetched the image, a person may or may not have read it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.db.models import Q, Sum
from django.utils import formats
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from mailboxes.constants import SendSource
from mailboxes.models import EmailTemplate, ReportDaily
from mailboxes.models.reports import REPORT_MEASURES
from mailboxes.reports import names
from mailboxes.reports.filters import (
    TYPES,
    Filters,
    reps_offered,
    scope_q,
    teams_offered,
)
from records.models import Team, User

# What the page shows of each row, in order: (key, measure read with people only, with all).
SHOWN = (
    ("sent", "sent", "sent"),
    ("delivered", "delivered", "delivered"),
    ("opened", "opened", "opened_any"),
    ("clicked", "clicked", "clicked_any"),
    ("replied", "replied", "replied"),
    ("bounced", "bounced", "bounced"),
    ("unsubscribed", "unsubscribed", "unsubscribed"),
)
# Each rate: (key, numerator, denominator).
RATES = (
    ("open_rate", "opened", "delivered"),
    ("click_rate", "clicked", "delivered"),
    ("reply_rate", "replied", "delivered"),
    ("bounce_rate", "bounced", "sent"),
    ("unsubscribe_rate", "unsubscribed", "delivered"),
)


COUNT_LABELS = {
    "sent": gettext_lazy("Sent"),
    "delivered": gettext_lazy("Delivered"),
    "opened": gettext_lazy("Opened"),
    "clicked": gettext_lazy("Clicked"),
    "replied": gettext_lazy("Replied"),
    "bounced": gettext_lazy("Bounced"),
    "unsubscribed": gettext_lazy("Unsubscribed"),
}
RATE_LABELS = {
    "open_rate": gettext_lazy("Open rate"),
    "click_rate": gettext_lazy("Click rate"),
    "reply_rate": gettext_lazy("Reply rate"),
    "bounce_rate": gettext_lazy("Bounce rate"),
    "unsubscribe_rate": gettext_lazy("Unsubscribe rate"),
}


def rate(numerator: int, denominator: int) -> float | None:
    """A percentage rounded to 0.1, or None over nothing."""
    return round(100.0 * numerator / denominator, 1) if denominator else None


@dataclass
class Row:
    key: object
    label: str
    counts: dict[str, int]
    rates: dict[str, float | None]
    estimate: bool  # some opens came through a privacy proxy

    @property
    def cells(self) -> list[tuple[str, str, int]]:
        return [(k, COUNT_LABELS[k], self.counts[k]) for k, _p, _e in SHOWN]

    @property
    def rate_cells(self) -> list[tuple[str, str, float | None]]:
        return [(k, RATE_LABELS[k], self.rates[k]) for k, _n, _d in RATES]

    @classmethod
    def of(cls, key, label, sums: dict, people_only: bool) -> Row:
        counts = {
            shown: sums.get(people if people_only else everyone) or 0
            for shown, people, everyone in SHOWN
        }
        rates = {k: rate(counts[n], counts[d]) for k, n, d in RATES}
        return cls(key, label, counts, rates, bool(sums.get("opened_proxy")))


@dataclass
class Report:
    filters: Filters
    series: list[Row] = field(default_factory=list)
    groups: list[Row] = field(default_factory=list)
    total: Row | None = None
    offered: dict[str, dict] = field(default_factory=dict)
    group_note: str = ""

    @property
    def estimate(self) -> bool:
        return bool(self.total and self.total.estimate)


def _sums(qs, *fields) -> list[dict]:
    return list(
        qs.values(*fields).annotate(**{m: Sum(m) for m in REPORT_MEASURES}).order_by(*fields)
    )


def offered(user: User) -> dict[str, dict]:
    """Every filter value the user may choose: reps and teams by access, the rest among the
    emails the user may see."""
    seen = ReportDaily.objects.filter(scope_q(user))
    sources = defaultdict(set)
    template_ids = set()
    for source, source_id, template_id in seen.values_list(
        "source", "source_id", "template_id"
    ).distinct():
        sources[source].add(source_id)
        template_ids.add(template_id)
    steps = names.parents(SendSource.SEQUENCE, sources[SendSource.SEQUENCE])
    sequences = {parent: name for parent, name in steps.values()}
    templates = dict(EmailTemplate.objects.filter(pk__in=template_ids).values_list("pk", "name"))
    template_ids.discard(0)
    return {
        "rep": reps_offered(user),
        "team": teams_offered(user),
        "type": {k: v for k, v in TYPES.items() if k in sources},
        "sequence": dict(sorted(sequences.items(), key=lambda kv: str(kv[1]))),
        "step": dict(
            sorted(
                names.names(SendSource.SEQUENCE, sources[SendSource.SEQUENCE]).items(),
                key=lambda kv: str(kv[1]),
            )
        ),
        "template": {
            t: templates.get(t) or _("#%(id)s (deleted)") % {"id": t} for t in template_ids
        },
        "token": names.names(SendSource.TRANSACTIONAL, sources[SendSource.TRANSACTIONAL]),
        "_steps": steps,
    }


def _filter_q(f: Filters, offer: dict) -> Q:
    q = Q()
    chosen = f.chosen
    if "rep" in chosen:
        q &= Q(rep_id=int(chosen["rep"]))
    if "team" in chosen:
        q &= Q(team_id=int(chosen["team"]))
    if "type" in chosen:
        q &= Q(source=chosen["type"])
    if "sequence" in chosen:
        wanted = int(chosen["sequence"])
        steps = [s for s, (parent, _n) in offer["_steps"].items() if parent == wanted]
        q &= Q(source=SendSource.SEQUENCE, source_id__in=steps)
    if "step" in chosen:
        q &= Q(source=SendSource.SEQUENCE, source_id=int(chosen["step"]))
    if "template" in chosen:
        q &= Q(template_id=int(chosen["template"]))
    if "token" in chosen:
        q &= Q(source=SendSource.TRANSACTIONAL, source_id=int(chosen["token"]))
    return q


def bucket_of(day: date, bucket: str) -> date:
    if bucket == "week":
        return day - timedelta(days=day.weekday())
    if bucket == "month":
        return day.replace(day=1)
    return day


def _buckets(f: Filters) -> list[date]:
    found, day = [], f.start
    while day <= f.end:
        b = bucket_of(day, f.bucket)
        if not found or found[-1] != b:
            found.append(b)
        day += timedelta(days=1)
    return found


def build(user: User, f: Filters) -> Report:
    offer = offered(user)
    f = f.check_values(offer)
    rows = ReportDaily.objects.filter(
        scope_q(user), _filter_q(f, offer), day__gte=f.start, day__lte=f.end
    )
    report = Report(filters=f, offered={k: v for k, v in offer.items() if k != "_steps"})

    per_bucket: dict[date, dict] = defaultdict(lambda: defaultdict(int))
    total: dict[str, int] = defaultdict(int)
    for r in _sums(rows, "day"):
        b = per_bucket[bucket_of(r["day"], f.bucket)]
        for m in REPORT_MEASURES:
            b[m] += r[m] or 0
            total[m] += r[m] or 0
    report.series = [
        Row.of(b, _bucket_label(b, f.bucket), per_bucket.get(b, {}), f.people_only)
        for b in _buckets(f)
    ]
    report.total = Row.of("total", _("Total"), total, f.people_only)
    report.groups, report.group_note = _groups(rows, f, offer)
    return report


def _bucket_label(b: date, bucket: str) -> str:
    """A period as the pages write dates (crm_mail/formats): "Nov 2026", "26 Nov 2026"."""
    if bucket == "month":
        return formats.date_format(b, "YEAR_MONTH_FORMAT")
    day = formats.date_format(b, "DATE_FORMAT")
    if bucket == "week":
        return _("week of %(day)s") % {"day": day}
    return day


_GROUP_FIELD = {
    "rep": "rep_id",
    "team": "team_id",
    "type": "source",
    "sequence": "source_id",
    "step": "source_id",
    "template": "template_id",
    "token": "source_id",
}
_GROUP_SOURCE = {
    "sequence": SendSource.SEQUENCE,
    "step": SendSource.SEQUENCE,
    "token": SendSource.TRANSACTIONAL,
}


def _groups(rows, f: Filters, offer: dict) -> tuple[list[Row], str]:
    note = ""
    source = _GROUP_SOURCE.get(f.group)
    if source:
        rows = rows.filter(source=source)
        note = _("Only %(type)s email has a %(group)s.") % {
            "type": TYPES[source],
            "group": _GROUP_LABEL_LOWER[f.group],
        }
    field_name = _GROUP_FIELD[f.group]
    sums = {r[field_name]: r for r in _sums(rows, field_name)}
    labels = _labels(f.group, list(sums), offer)
    if f.group == "sequence":
        merged: dict = defaultdict(lambda: defaultdict(int))
        for step, r in sums.items():
            parent, name = offer["_steps"].get(step) or (
                -step,
                names.names(SendSource.SEQUENCE, [step])[step],
            )
            labels[parent] = name
            for m in REPORT_MEASURES:
                merged[parent][m] += r[m] or 0
        sums = merged
    out = [Row.of(k, str(labels.get(k, k)), s, f.people_only) for k, s in sums.items()]
    out.sort(key=lambda r: (-r.counts["sent"], r.label))
    return out, note


_GROUP_LABEL_LOWER = {
    "sequence": gettext_lazy("sequence"),
    "step": gettext_lazy("sequence step"),
    "token": gettext_lazy("SMTP token or API key"),
}


def _labels(group: str, keys: list, offer: dict) -> dict:
    if group == "rep":
        found = {
            u.pk: u.display_name
            for u in User.objects.filter(pk__in=keys).only(
                "first_name", "last_name", "username", "profile_name"
            )
        }
        return {k: found.get(k) or _("No rep (team inbox)") for k in keys}
    if group == "team":
        found = dict(Team.objects.filter(pk__in=keys).values_list("pk", "name"))
        return {k: found.get(k) or _("No team") for k in keys}
    if group == "type":
        return {k: TYPES.get(k, k) for k in keys}
    if group == "template":
        found = dict(EmailTemplate.objects.filter(pk__in=keys).values_list("pk", "name"))
        return {k: found.get(k) or (_("No template") if not k else f"#{k}") for k in keys}
    if group == "step":
        return names.names(SendSource.SEQUENCE, keys)
    if group == "token":
        return names.names(SendSource.TRANSACTIONAL, keys)
    return {}
