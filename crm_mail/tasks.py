from celery import shared_task

from . import heartbeats


@shared_task(name=heartbeats.HEARTBEAT)
def heartbeat(queue: str) -> None:
    """Queued by beat to each queue: the worker running it serves `queue` (heartbeats.py)."""
    heartbeats.record(heartbeats.queue_key(queue))
