"""Typed helpers that read settings from the environment and fail loudly on bad values."""

import os
from urllib.parse import parse_qsl, unquote, urlparse

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, not {raw!r}") from None


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def database_from_url(url: str, base_dir) -> dict:
    """Turn DATABASE_URL (postgres://user:pass@host:port/name, sqlite:///path) into settings."""
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        # sqlite:///relative/path or sqlite:////absolute/path, as dj-database-url reads them.
        path = unquote(parsed.path[1:]) or "db.sqlite3"
        if not os.path.isabs(path):
            path = os.path.join(base_dir, path)
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": path}
    if parsed.scheme in ("postgres", "postgresql"):
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parsed.path.lstrip("/")),
            "USER": unquote(parsed.username or ""),
            "PASSWORD": unquote(parsed.password or ""),
            "HOST": parsed.hostname or "",
            "PORT": str(parsed.port or ""),
            "CONN_MAX_AGE": 60,
            "CONN_HEALTH_CHECKS": True,
        }
    raise ImproperlyConfigured(f"DATABASE_URL has an unsupported scheme: {parsed.scheme!r}")


def email_from_url(url: str) -> dict:
    """Turn CRM_SYSTEM_EMAIL_URL (smtp://user:password@host:port, ?tls=1 for STARTTLS, ?ssl=1
    for TLS from the first byte) into Django's EMAIL_* settings; empty: none configured."""
    if not url:
        return {}
    parsed = urlparse(url)
    if parsed.scheme != "smtp" or not parsed.hostname:
        raise ImproperlyConfigured(
            "CRM_SYSTEM_EMAIL_URL must look like smtp://user:password@host:587?tls=1"
        )
    query = dict(parse_qsl(parsed.query))
    flags = {}
    for name in ("tls", "ssl"):
        value = query.pop(name, "0").strip().lower()
        if value not in _TRUE | _FALSE:
            raise ImproperlyConfigured(
                f"CRM_SYSTEM_EMAIL_URL: {name} must be 1 or 0, not {value!r}"
            )
        flags[name] = value in _TRUE
    if query or (flags["tls"] and flags["ssl"]):
        raise ImproperlyConfigured("CRM_SYSTEM_EMAIL_URL takes tls=1 or ssl=1, nothing else")
    return {
        "EMAIL_HOST": parsed.hostname,
        "EMAIL_PORT": parsed.port or (465 if flags["ssl"] else 25),
        "EMAIL_HOST_USER": unquote(parsed.username or ""),
        "EMAIL_HOST_PASSWORD": unquote(parsed.password or ""),
        "EMAIL_USE_TLS": flags["tls"],
        "EMAIL_USE_SSL": flags["ssl"],
    }
