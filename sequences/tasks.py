"""Celery tasks of sequences, declared by its sub-packages (autodiscovered here)."""

from .engine.tasks import sequence_tick

__all__ = ["sequence_tick"]
