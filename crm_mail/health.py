"""What /health/ and Settings > System health report: the parts the product cannot work without.

- database and broker: reachable, each within its own short time whatever the part does (a
  load balancer's probe must not hang on a Redis that accepts connections and never answers);
- beat and the workers: their heartbeats (crm_mail/heartbeats.py), one per queue, older than
  STALE_BEATS heartbeat periods means that part is gone or stuck;
- the work itself: how long the oldest due outbound email has waited, and how far behind its
  schedule the oldest sync is; past OUTBOUND_STUCK or SYNC_STUCK the queue is stuck.

Every figure is one indexed or small query, so the whole report stays fast.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Q
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone
from django.utils.translation import gettext as _

from mailboxes import jobs

from . import heartbeats

# Seconds the broker has to accept a connection and answer (it answers in under a
# millisecond): more than a passing stall, and the whole check stays well under 2 s.
BROKER_TIMEOUT = 1.0
# A heartbeat is missed after this many of its periods (settings.CRM_HEARTBEAT_SECONDS): more
# than one late job, so a busy moment is not an outage.
STALE_BEATS = 4
# A due email waits seconds (send_due runs every 30 s); ten minutes means nothing sends.
OUTBOUND_STUCK = timedelta(minutes=10)
# A sync that should have run ten minutes ago (CRM_SYNC_SECONDS after the last one) is stuck.
SYNC_STUCK = timedelta(minutes=10)


@dataclass
class Check:
    """One line of the report: an error in words when it fails, and its figures."""

    error: str | None = None
    figures: dict = field(default_factory=dict)

    def as_json(self) -> dict:
        error = {"error": self.error} if self.error else {}
        return {"ok": self.error is None, **error, **self.figures}


def check_database() -> str | None:
    """Return None when the database answers, else the error in words."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error means "unreachable" here
        return f"{type(exc).__name__}: {exc}"
    return None


def check_broker(timeout: float = BROKER_TIMEOUT) -> str | None:
    """Return None when the Celery broker answers within `timeout` seconds, else why not."""
    try:
        with jobs.broker_connection(timeout) as conn:
            conn.ensure_connection(max_retries=0)
    except Exception as exc:  # kombu and redis-py raise transport-specific errors
        return _("unreachable (%(error)s)") % {"error": f"{type(exc).__name__}: {exc}"}
    return None


def stale_after() -> timedelta:
    return timedelta(seconds=STALE_BEATS * settings.CRM_HEARTBEAT_SECONDS)


def _age(seen: dict[str, datetime], name: str, now: datetime) -> int | None:
    at = seen.get(name)
    return None if at is None else max(0, round((now - at).total_seconds()))


def _silence(age: int | None) -> str:
    if age is None:
        return _("no heartbeat yet")
    return _("no heartbeat for %(n)s s") % {"n": age}


def check_beat(seen: dict[str, datetime], now: datetime) -> Check:
    age = _age(seen, heartbeats.BEAT, now)
    fresh = age is not None and age <= stale_after().total_seconds()
    error = None if fresh else _("gone: %(why)s") % {"why": _silence(age)}
    return Check(error, {"last_heartbeat_seconds": age})


def check_workers(seen: dict[str, datetime], now: datetime, beat_ok: bool) -> Check:
    """Per queue: did a worker take that queue's heartbeat job lately?"""
    limit = stale_after().total_seconds()
    queues, errors = {}, []
    for queue in settings.CRM_QUEUES:
        age = _age(seen, heartbeats.queue_key(queue), now)
        queue_check = Check(figures={"last_heartbeat_seconds": age})
        if age is None or age > limit:
            # Without beat no heartbeat job is queued: a silent queue may still have a worker.
            if beat_ok:
                words = _("no worker took a job (%(silence)s)")
            else:
                words = _("unknown while beat is down (%(silence)s)")
            queue_check.error = words % {"silence": _silence(age)}
            errors.append(
                _("queue %(queue)s: %(error)s") % {"queue": queue, "error": queue_check.error}
            )
        queues[queue] = queue_check.as_json()
    return Check("; ".join(errors) or None, {"queues": queues})


def oldest_due_outbound(now: datetime) -> timedelta | None:
    """How long the oldest due outbound email has waited (the partial index outbound_due)."""
    from mailboxes.models import Outbound
    from mailboxes.outbox.outcomes import ACTIVE

    due = (
        Outbound.objects.filter(status__in=ACTIVE, next_attempt_at__lte=now)
        .order_by("next_attempt_at")
        .values_list("next_attempt_at", flat=True)
        .first()
    )
    return None if due is None else now - due


def oldest_overdue_sync(now: datetime) -> timedelta | None:
    """How far behind its schedule (CRM_SYNC_SECONDS after the last one) the most belated
    inbox's sync is. A sync counts from when a worker started it (its lease), finished or
    not: a server that is down is the inbox's problem, shown on its page, not the queue's."""
    from mailboxes.sync.engine import mailboxes_to_sync

    running = Q(sync_lease__holder__gt="", sync_lease__expires_at__gt=now)
    last = (
        mailboxes_to_sync()
        .exclude(running)
        .annotate(
            # The later of the two that exist (Greatest is NULL if either is), else its creation.
            last=Greatest(
                Coalesce("last_sync_at", "sync_lease__acquired_at", "created_at"),
                Coalesce("sync_lease__acquired_at", "last_sync_at", "created_at"),
            )
        )
        .order_by("last")
        .values_list("last", flat=True)
        .first()
    )
    if last is None:
        return None
    behind = now - last - timedelta(seconds=settings.CRM_SYNC_SECONDS)
    return behind if behind > timedelta(0) else None


def _seconds(delta: timedelta | None) -> int | None:
    return None if delta is None else round(delta.total_seconds())


def check_outbound(now: datetime) -> Check:
    waited = oldest_due_outbound(now)
    stuck = waited is not None and waited > OUTBOUND_STUCK
    error = None
    if stuck:
        error = _("stuck: the oldest due email has waited %(n)s s") % {"n": _seconds(waited)}
    return Check(error, {"oldest_due_seconds": _seconds(waited)})


def check_sync(now: datetime) -> Check:
    behind = oldest_overdue_sync(now)
    stuck = behind is not None and behind > SYNC_STUCK
    error = None
    if stuck:
        error = _("stuck: an inbox's sync is %(n)s s overdue") % {"n": _seconds(behind)}
    return Check(error, {"oldest_overdue_seconds": _seconds(behind)})


def notes() -> list[str]:
    """What Settings > System health says besides the checks: things that work as configured
    yet a person should know, and that never make /health/ fail."""
    found = []
    if not settings.CRM_SYSTEM_EMAIL_URL:
        found.append(
            _(
                "System email is not configured (CRM_SYSTEM_EMAIL_URL): the product sends no "
                "notifications, such as sequence task reminders."
            )
        )
    return found


def report() -> dict:
    """{"status": "ok" or "error", "checks": {name: {"ok", "error" when not, figures...}}}."""
    checks = {"database": Check(check_database()), "broker": Check(check_broker())}
    if checks["database"].error is None:
        now = timezone.now()
        seen = heartbeats.last_seen()
        checks["beat"] = check_beat(seen, now)
        checks["workers"] = check_workers(seen, now, beat_ok=checks["beat"].error is None)
        checks["outbound"] = check_outbound(now)
        checks["sync"] = check_sync(now)
    else:
        for name in ("beat", "workers", "outbound", "sync"):
            checks[name] = Check(_("unknown: the database does not answer"))
    return {
        "status": "ok" if all(c.error is None for c in checks.values()) else "error",
        "checks": {name: check.as_json() for name, check in checks.items()},
    }
