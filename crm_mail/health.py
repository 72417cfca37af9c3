"""Reachability checks for the parts the product cannot work without.

Each check answers within its own short time, whatever the part does: a load balancer's probe
must not hang on a Redis that accepts connections and never answers.
"""

from django.db import connection

from mailboxes import jobs

# Seconds the broker has to accept a connection and answer (it answers in under a
# millisecond): more than a passing stall, and the whole check stays well under 2 s.
BROKER_TIMEOUT = 1.0


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
        return f"unreachable ({type(exc).__name__}: {exc})"
    return None


def report() -> dict:
    checks = {"database": check_database(), "broker": check_broker()}
    return {
        "status": "ok" if not any(checks.values()) else "error",
        "checks": {
            name: {"ok": error is None, **({"error": error} if error else {})}
            for name, error in checks.items()
        },
    }
