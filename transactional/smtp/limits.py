"""Counts the SMTP API keeps in the cache (Redis in production, so every server process
shares them): each token's messages a minute and an hour, and each client address's recent
failed logins, which slow its next answers (django-axes then locks it out)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.utils.translation import gettext as _

# A failure answers FAILURE_DELAY_MS later per failure so far, up to this many times that.
MAX_DELAY_STEPS = 10


def _count(key: str, seconds: int) -> int:
    """Add one to a count that lives `seconds`; return it."""
    cache.add(key, 0, seconds)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, seconds)
        return 1


def over_rate(credential_id: int, now: datetime) -> str:
    """Take one message of the token's minute and hour windows; the refusal when one is
    spent (a 451: the client tries again later), else ""."""
    minute = now.replace(second=0, microsecond=0)
    hour = minute.replace(minute=0)
    windows = (
        (settings.SMTP_API_MINUTE_LIMIT, f"smtp-api-rate-{credential_id}-{minute:%Y%m%d%H%M}", 120),
        (settings.SMTP_API_HOUR_LIMIT, f"smtp-api-rate-{credential_id}-{hour:%Y%m%d%H}h", 3700),
    )
    for (limit, key, seconds), (per, until) in zip(
        windows,
        ((_("a minute"), minute + timedelta(minutes=1)), (_("an hour"), hour + timedelta(hours=1))),
        strict=True,
    ):
        if limit and _count(key, seconds) > limit:
            return _(
                "451 4.7.1 Rate limit: this token may send %(n)s messages %(per)s; "
                "try again after %(until)s UTC"
            ) % {"n": limit, "per": per, "until": until.strftime("%H:%M")}
    return ""


def _failures_key(address: str) -> str:
    return f"smtp-api-failures-{address}"


def failure_delay(address: str) -> float:
    """Count a failed login from `address`; the seconds to wait before answering it."""
    seconds = int(settings.AXES_COOLOFF_TIME.total_seconds()) or 900
    failures = _count(_failures_key(address), seconds)
    steps = min(failures, MAX_DELAY_STEPS)
    return steps * settings.SMTP_API_FAILURE_DELAY_MS / 1000


def forget_failures(address: str) -> None:
    cache.delete(_failures_key(address))
