"""tracking_open: see bench/tracking.py."""

from .tracking import run_open as run

__all__ = ["run"]
