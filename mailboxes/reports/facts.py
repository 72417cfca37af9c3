"""What each outgoing email counts for in the reports (RPT-2), from the stored email, its
outbound row, its tracking rollup (or its raw events, when rebuilding) and its contacts'
opt-outs.

- Sent: an email sent from the CRM (sent or confirmed from the Sent folder), or an email the
  rep sent from their own mail client that sync logged. Left out: mail logged before its inbox
  was connected (retroactively logged), forwarded to the CRM's logging address, or logged by
  hand (`EmailMessage.logged_via`).
- Delivered: sent and not bounced. Every other measure counts among delivered emails only.
- Tracked: sent from the CRM with tracking. A logged or untracked email counts as sent, with no
  opens or clicks.
- Opened / clicked: by a person (`opened`, `clicked`), or by anything (`opened_any`,
  `clicked_any`: scanners, privacy proxies and pre-fetchers too); `opened_proxy`: opened
  through a privacy proxy, which hides whether a person read it.
- Replied: sync found a reply to it (the stored reply count).
- Unsubscribed: one of its contacts opted out of all email or of a subscription type after
  it, and it was the last email they were sent before doing so.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.db.models import Count
from django.db.models.functions import Coalesce

from mailboxes.constants import Direction, LoggedVia, SendSource, SendStatus
from mailboxes.models import (
    EmailMessage,
    TrackingEvent,
    TrackingKind,
    TrackingReason,
    TrackingRollup,
)
from mailboxes.models.reports import REPORT_KEYS, REPORT_MEASURES
from privacy.constants import SubscriptionState
from privacy.models import ContactOptOut, SubscriptionStatus
from records.calendar.clock import Calendar
from records.models import User

SENT_STATUSES = (SendStatus.SENT, SendStatus.RECONCILED)
# human opens, other opens, proxy opens, human clicks, other clicks
Engagement = tuple[int, int, int, int, int]
NONE: Engagement = (0, 0, 0, 0, 0)


@dataclass(frozen=True)
class Fact:
    key: tuple  # REPORT_KEYS
    counts: tuple[int, ...]  # REPORT_MEASURES, each 0 or 1

    @property
    def empty(self) -> bool:
        return not any(self.counts)


EMPTY_COUNTS = (0,) * len(REPORT_MEASURES)


def from_rollups(message_ids: Iterable[int]) -> dict[int, Engagement]:
    """Engagement as the event writer rolled it up (the incremental path)."""
    rows = TrackingRollup.objects.filter(message_id__in=list(message_ids)).values_list(
        "message_id", "human_opens", "other_opens", "proxy_opens", "human_clicks", "other_clicks"
    )
    return {m: tuple(rest) for m, *rest in rows}


def from_events(message_ids: Iterable[int]) -> dict[int, Engagement]:
    """Engagement counted from the raw events (the rebuild, and its check)."""
    counts: dict[int, list[int]] = defaultdict(lambda: [0] * 5)
    rows = (
        TrackingEvent.objects.filter(message_id__in=list(message_ids))
        .values_list("message_id", "kind", "reason")
        .annotate(n=Count("id"))
        .order_by()
    )
    for message_id, kind, reason, n in rows:
        c = counts[message_id]
        human = reason == TrackingReason.HUMAN
        if kind == TrackingKind.OPEN:
            c[0 if human else 1] += n
            if reason == TrackingReason.PRIVACY_PROXY:
                c[2] += n
        else:
            c[3 if human else 4] += n
    return {m: tuple(c) for m, c in counts.items()}


def opt_out_times(contact_ids: Iterable[int]) -> dict[int, list]:
    """When each of the contacts unsubscribed: their opt-out of all email and each
    subscription type they opted out of (as it stands now: a re-subscribed type no longer)."""
    times: dict[int, list] = defaultdict(list)
    for contact_id, at in ContactOptOut.objects.filter(contact_id__in=contact_ids).values_list(
        "contact_id", "opted_out_at"
    ):
        times[contact_id].append(at)
    for contact_id, at in SubscriptionStatus.objects.filter(
        contact_id__in=contact_ids, status=SubscriptionState.OPTED_OUT
    ).values_list("contact_id", "updated_at"):
        times[contact_id].append(at)
    return times


def last_emails_before(times: dict[int, list]) -> set[int]:
    """The emails that were the last outgoing one each contact got before each of `times`."""
    if not times:
        return set()
    sent: dict[int, list[tuple]] = defaultdict(list)
    for contact_id, message_id, sent_at in EmailMessage.contacts.through.objects.filter(
        contact_id__in=times, emailmessage__direction=Direction.OUTGOING
    ).values_list("contact_id", "emailmessage_id", "emailmessage__sent_at"):
        if sent_at is not None:
            sent[contact_id].append((sent_at, message_id))
    found = set()
    for contact_id, moments in times.items():
        for moment in moments:
            before = [e for e in sent[contact_id] if e[0] <= moment]
            if before:
                found.add(max(before)[1])
    return found


def _unsubscribed(rows: list[dict]) -> set[int]:
    """Those of the emails that were the last one a contact got before unsubscribing."""
    contacts = EmailMessage.contacts.through.objects.filter(
        emailmessage_id__in=[r["pk"] for r in rows]
    ).values_list("contact_id", flat=True)
    return last_emails_before(opt_out_times(set(contacts)))


def compute(
    message_ids: Iterable[int],
    engagement: Callable[[Iterable[int]], dict[int, Engagement]] = from_rollups,
) -> dict[int, Fact]:
    """Each email's fact; an email left out (or gone) gets an empty one."""
    ids = list(message_ids)
    rows = list(
        EmailMessage.objects.filter(pk__in=ids, direction=Direction.OUTGOING)
        .annotate(
            when=Coalesce("outbound__sent_at", "sent_at"),
            rep=Coalesce("outbound__sender_id", "mailbox__owner_id"),
        )
        .values(
            "pk",
            "when",
            "rep",
            "bounce",
            "reply_count",
            "logged_via",
            "mailbox__created_at",
            "outbound__id",
            "outbound__status",
            "outbound__source",
            "outbound__source_id",
            "outbound__template_id",
            "outbound__track",
        )
    )
    # Days are the account's (Settings > Sending calendar): an email sent at 00:30 in Rome is
    # that day's, not the day before's in UTC.
    zone = Calendar.account_zone()
    teams = dict(
        User.objects.filter(pk__in={r["rep"] for r in rows if r["rep"]}).values_list(
            "pk", "team_id"
        )
    )
    tracking = engagement([r["pk"] for r in rows])
    unsubscribed = _unsubscribed(rows)
    facts = {m: Fact((None,) * len(REPORT_KEYS), EMPTY_COUNTS) for m in ids}
    for r in rows:
        if not _counts_as_sent(r):
            continue
        source = r["outbound__source"] or SendSource.ONE_TO_ONE
        key = (
            r["when"].astimezone(zone).date(),
            r["rep"] or 0,
            teams.get(r["rep"]) or 0,
            source,
            r["outbound__source_id"] or 0,
            r["outbound__template_id"] or 0,
        )
        delivered = not r["bounce"]
        tracked = delivered and bool(r["outbound__id"] and r["outbound__track"])
        h_open, o_open, p_open, h_click, o_click = tracking.get(r["pk"], NONE) if tracked else NONE
        counts = dict(
            sent=1,
            delivered=int(delivered),
            bounced=int(not delivered),
            tracked=int(tracked),
            opened=int(h_open > 0),
            opened_any=int(h_open + o_open > 0),
            opened_proxy=int(p_open > 0),
            clicked=int(h_click > 0),
            clicked_any=int(h_click + o_click > 0),
            replied=int(delivered and r["reply_count"] > 0),
            unsubscribed=int(delivered and r["pk"] in unsubscribed),
        )
        facts[r["pk"]] = Fact(key, tuple(counts[m] for m in REPORT_MEASURES))
    return facts


def _counts_as_sent(r: dict) -> bool:
    if r["when"] is None or r["logged_via"] != LoggedVia.SYNC:
        return False
    if r["outbound__id"] is not None:
        return r["outbound__status"] in SENT_STATUSES
    # Logged from the rep's inbox: only mail sent once the inbox was connected; older mail
    # the first sync brought in is retroactively logged.
    created = r["mailbox__created_at"]
    return created is not None and r["when"] >= created
