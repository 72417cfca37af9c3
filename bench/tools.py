"""What `make bench` and `make faults` run beside the product, and how a fresh machine gets it.

The programs (wrk, Dovecot) come from Debian packages: a missing one is installed when the run
is root and has apt-get, as on CI and the development machines; otherwise the run stops at
once, naming the packages to install. PostgreSQL and Redis are servers the run connects to: it
stops at once, naming the URL, when one does not answer.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class Tool:
    name: str
    candidates: tuple[str, ...]  # names on PATH, then absolute paths
    package: str  # the Debian package that brings it


WRK = Tool("wrk", ("wrk", "/usr/bin/wrk"), "wrk")
DOVECOT = Tool("dovecot", ("dovecot", "/usr/sbin/dovecot"), "dovecot-imapd")

# The programs each benchmark runs; the others need only PostgreSQL and Redis.
BENCH_NEEDS = {
    "imap_sync": (DOVECOT,),
    "send_throughput": (DOVECOT,),
    "tracking_open": (WRK,),
    "tracking_click": (WRK,),
    "single_send_api": (WRK,),
}


def find(tool: Tool) -> str | None:
    """The path of the tool's program, or None when it is not installed."""
    return next(filter(None, map(shutil.which, tool.candidates)), None)


def can_install() -> bool:
    return os.geteuid() == 0 and shutil.which("apt-get") is not None


def ensure(tools, *, who: str, install: bool | None = None) -> None:
    """Return once every tool is there, installing the missing ones' packages if `install`
    (by default: when root with apt-get); else exit non-zero, naming the packages."""
    missing = [tool for tool in dict.fromkeys(tools) if find(tool) is None]
    if not missing:
        return
    packages = " ".join(tool.package for tool in missing)
    names = " and ".join(tool.name for tool in missing)
    if can_install() if install is None else install:
        print(f"{who}: installing the Debian package(s) {packages} for {names}", flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-q"], env=env, check=False)
        subprocess.run(["apt-get", "install", "-y", "-q", *packages.split()], env=env, check=False)
        missing = [tool for tool in missing if find(tool) is None]
        if not missing:
            return
    sys.exit(
        f"{who} needs {names}, missing here: install the Debian package(s) with "
        f"`sudo apt-get install {packages}`, then run it again."
    )


def ensure_servers(database_url: str, redis_url: str, *, who: str) -> None:
    """Exit non-zero, naming the URL, when PostgreSQL or Redis does not answer."""
    import psycopg
    import redis

    from crm_mail.env import database_from_url

    db = database_from_url(database_url, ".")
    try:
        psycopg.connect(
            host=db["HOST"] or None,
            port=db["PORT"] or None,
            user=db["USER"] or None,
            password=db["PASSWORD"] or None,
            dbname="postgres",
            connect_timeout=5,
        ).close()
    except psycopg.OperationalError as exc:
        sys.exit(
            f"{who} needs PostgreSQL at {database_url} (its server, not the database, which "
            f"it creates), and it does not answer: {exc}"
        )
    try:
        redis.Redis.from_url(redis_url, socket_connect_timeout=5, socket_timeout=5).ping()
    except redis.RedisError as exc:
        sys.exit(f"{who} needs Redis at {redis_url}, and it does not answer: {exc}")
