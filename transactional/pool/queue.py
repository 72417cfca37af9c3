"""The pool's queue as an admin sees it (Settings > Queue): transactional email by state, and
the bulk actions, each all or nothing: retry now or cancel deferred mail; send again, or
record as sent, mail whose sending is uncertain (the relay's answer was lost), through the
outbox's own actions (mailboxes/outbox/actions.py)."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from mailboxes import jobs
from mailboxes.constants import OutboundEventKind, SendSource, SendStatus
from mailboxes.models import Outbound, OutboundEvent
from mailboxes.outbox.actions import outbound_mark_sent, outbound_send_again
from records.signals import send_on_commit
from transactional.pool import signals
from transactional.pool.delivery import domains_of
from transactional.pool.models import DomainDeferral

# The states the page filters by, and the statuses each covers.
STATES = {
    "queued": (gettext_lazy("Queued"), (SendStatus.QUEUED, SendStatus.SCHEDULED)),
    "sending": (gettext_lazy("Sending"), (SendStatus.SENDING,)),
    "deferred": (gettext_lazy("Deferred"), (SendStatus.DEFERRED,)),
    "sent": (gettext_lazy("Sent"), (SendStatus.SENT,)),
    "failed": (gettext_lazy("Failed"), (SendStatus.FAILED,)),
    "uncertain": (gettext_lazy("Uncertain"), (SendStatus.UNCERTAIN,)),
    "cancelled": (gettext_lazy("Cancelled"), (SendStatus.CANCELLED,)),
}
# At most this many emails per bulk action (a page's worth, and a bounded transaction).
MAX_SELECTED = 500


class ActionRefused(Exception):
    """Nothing was changed; the message says why."""


@dataclass(frozen=True)
class Filters:
    state: str = ""
    query: str = ""  # a recipient's address, or part of it, or the subject

    @classmethod
    def from_query(cls, params) -> Filters:
        state = params.get("state", "")
        return cls(state if state in STATES else "", params.get("q", "").strip()[:200])


def transactional_email(filters: Filters) -> QuerySet[Outbound]:
    rows = Outbound.objects.filter(source=SendSource.TRANSACTIONAL).select_related("message")
    rows = rows.defer("message__text_body", "message__html_body", "message__raw")
    rows = rows.prefetch_related("events")
    if filters.state:
        rows = rows.filter(status__in=STATES[filters.state][1])
    if filters.query:
        rows = rows.filter(
            Q(message__to_addrs__icontains=filters.query)
            | Q(message__subject__icontains=filters.query)
        )
    return rows.order_by("-created_at", "-pk")


def ids_in(state: str, filters: Filters) -> list[int]:
    """The emails in `state` the list shows with these filters (at most MAX_SELECTED + 1, so
    an action on too many is refused, not cut short)."""
    rows = transactional_email(Filters(state, filters.query))
    return list(rows.values_list("pk", flat=True)[: MAX_SELECTED + 1])


def counts() -> dict[str, int]:
    """How many emails are in each state, in one query."""
    by_status = dict(
        Outbound.objects.filter(source=SendSource.TRANSACTIONAL)
        .values("status")
        .annotate(n=Count("pk"))
        .values_list("status", "n")
    )
    return {
        key: sum(by_status.get(s, 0) for s in statuses) for key, (_, statuses) in STATES.items()
    }


def _history(rows: list[Outbound], kind: str, words: str) -> None:
    OutboundEvent.objects.bulk_create(
        [OutboundEvent(outbound_id=r.pk, kind=kind, detail=words) for r in rows]
    )


def _locked(ids: list[int], state: str) -> list[Outbound]:
    """Lock the chosen rows; refuse the whole action unless every one is still in `state`
    ("deferred" or "uncertain")."""
    wanted = set(ids)
    if not wanted:
        raise ActionRefused(CHOOSE[state])
    if len(wanted) > MAX_SELECTED:
        raise ActionRefused(_("Choose at most %(n)s emails at once.") % {"n": MAX_SELECTED})
    rows = list(
        Outbound.objects.select_for_update()
        .filter(pk__in=wanted, source=SendSource.TRANSACTIONAL)
        .order_by("pk")
    )
    moved = len(wanted) - sum(1 for r in rows if r.status in STATES[state][1])
    if moved:
        raise ActionRefused(MOVED[state] % {"n": moved})
    return rows


CHOOSE = {
    "deferred": gettext_lazy("Choose at least one deferred email."),
    "uncertain": gettext_lazy("Choose at least one uncertain email."),
}
MOVED = {
    "deferred": gettext_lazy(
        "%(n)s of the chosen emails are no longer deferred (sent, retried or cancelled "
        "meanwhile): nothing was changed. Look at the list again and choose anew."
    ),
    "uncertain": gettext_lazy(
        "%(n)s of the chosen emails are not uncertain (sent again or marked as sent "
        "meanwhile, or in another state): nothing was changed. Look at the list again and "
        "choose anew."
    ),
}


def retry_now(ids: list[int], user) -> int:
    """Make the chosen deferred emails due now, lifting their domains' deferral; all or
    none. Return how many."""
    with transaction.atomic():
        rows = _locked(ids, "deferred")
        domains = set().union(*(domains_of(r.recipients) for r in rows))
        DomainDeferral.objects.filter(domain__in=domains).delete()
        Outbound.objects.filter(pk__in=[r.pk for r in rows]).update(
            status=SendStatus.QUEUED, next_attempt_at=timezone.now(), claimed_at=None
        )
        words = _("%(name)s asked to try again now.") % {"name": user.display_name}
        _history(rows, OutboundEventKind.REP, words)
        jobs.later_many(jobs.SEND_TRANSACTIONAL, [(r.pk,) for r in rows])
    return len(rows)


def cancel(ids: list[int], user) -> int:
    """Cancel the chosen deferred emails: never sent; all or none. Return how many."""
    with transaction.atomic():
        rows = _locked(ids, "deferred")
        words = _("Cancelled by %(name)s.") % {"name": user.display_name}
        Outbound.objects.filter(pk__in=[r.pk for r in rows]).update(
            status=SendStatus.CANCELLED, last_error=words, claimed_at=None
        )
        _history(rows, OutboundEventKind.CANCELLED, words)
        now = timezone.now()
        changes = [signals.PoolChange(r.pk, now, words) for r in rows]
        send_on_commit(signals.email_cancelled, __name__, *changes)
    return len(rows)


def _each(rows: list[Outbound], action) -> None:
    """Apply one of the outbox's actions to every row, inside the caller's transaction: one
    refused undoes them all."""
    for row in rows:
        try:
            action(row)
        except ValidationError as refused:
            raise ActionRefused(" ".join(refused.messages)) from refused


def send_again(ids: list[int], user) -> int:
    """Queue the chosen uncertain emails once more (the recipient may get one twice: the
    admin accepted that); all or none. Return how many."""
    with transaction.atomic():
        rows = _locked(ids, "uncertain")
        _each(rows, outbound_send_again)
        words = _(
            "%(name)s chose to send it again, accepting that the recipient may get it twice."
        ) % {"name": user.display_name}
        _history(rows, OutboundEventKind.REP, words)
    return len(rows)


def mark_sent(ids: list[int], user) -> int:
    """Record that the chosen uncertain emails did go out; all or none. Return how many."""
    with transaction.atomic():
        rows = _locked(ids, "uncertain")
        _each(rows, outbound_mark_sent)
        words = _("%(name)s recorded that it was sent.") % {"name": user.display_name}
        _history(rows, OutboundEventKind.REP, words)
    return len(rows)
