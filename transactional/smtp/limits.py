"""Counts the SMTP API keeps in the cache (Redis in production, so every server process
shares them): each token's messages a minute and an hour (against the token's own limits, else
the server's: `Credential.sending_limits`), and each client address's recent
failed logins, which slow its next answers (django-axes then locks it out)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from transactional.credentials.models import Credential

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


def over_rate(credential: Credential, now: datetime) -> str:
    """Take one message of the token's minute and hour windows; the refusal when one is
    spent (a 451: the client tries again later), else ""."""
    minute = now.replace(second=0, microsecond=0)
    hour = minute.replace(minute=0)
    per_minute, per_hour = credential.sending_limits
    windows = (
        (per_minute, f"smtp-api-rate-{credential.pk}-{minute:%Y%m%d%H%M}", 120),
        (per_hour, f"smtp-api-rate-{credential.pk}-{hour:%Y%m%d%H}h", 3700),
    )
    for (limit, key, seconds), (per, until) in zip(
        windows,
        ((_("a minute"), minute + timedelta(minutes=1)), (_("an hour"), hour + timedelta(hours=1))),
        strict=True,
    ):
        if limit and _count(key, seconds) > limit:
            return ngettext(
                "451 4.7.1 Rate limit: this token may send %(n)s message %(per)s; "
                "try again after %(until)s UTC",
                "451 4.7.1 Rate limit: this token may send %(n)s messages %(per)s; "
                "try again after %(until)s UTC",
                limit,
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
