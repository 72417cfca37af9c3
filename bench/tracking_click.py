"""tracking_click: see bench/tracking.py."""

from .tracking import run_click as run

__all__ = ["run"]
