"""Reachability checks for the parts the product cannot work without."""

from django.db import connection

from .celery import app as celery_app


def check_database() -> str | None:
    """Return None when the database answers, else the error in words."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error means "unreachable" here
        return f"{type(exc).__name__}: {exc}"
    return None


def check_broker(timeout: float = 2.0) -> str | None:
    """Return None when the Celery broker accepts a connection, else the error in words."""
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=timeout)
    except Exception as exc:  # kombu raises transport-specific errors
        return f"{type(exc).__name__}: {exc}"
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
