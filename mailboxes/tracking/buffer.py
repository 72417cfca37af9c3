"""Where hits wait before they are written: this web process's buffer, pushed to a Redis
stream, or nowhere (written by the request) without Redis."""

from __future__ import annotations

import atexit
import logging
import os
import threading
from collections import deque

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

logger = logging.getLogger(__name__)

# Each web process collects hits and pushes them to the Redis stream every PUSH_SECONDS, or at
# once when PUSH_AT are waiting, from a background thread; a request only appends to a deque.
# Measured on these machines: one XADD per request through redis-py costs ~230 µs, about as
# much as the bare GIF view itself, which put the endpoint at ~40% of the bare view's rate
# under wrk. The price: a web process killed outright (SIGKILL, OOM) loses its last
# PUSH_SECONDS of hits, the same order as Redis's own window without AOF. A normal stop
# (gunicorn's SIGTERM/SIGQUIT, max-requests, reload) pushes them at exit.
PUSH_SECONDS = 0.5
PUSH_AT = 200
# While Redis is unreachable a process keeps at most this many hits, dropping the oldest.
PROCESS_BUFFER_MAX = 50_000
# Past this many unflushed entries (days without a flusher at real traffic) Redis drops the
# oldest rather than run out of memory.
STREAM_MAX_LENGTH = 1_000_000
# Hits in one stream entry at most, and entries read at a time by the flush.
ENTRY_MAX = 1000
ENTRIES_READ = 50


_config: dict[str, str] = {}


def buffer_mode() -> str:
    """Return "redis" (buffered, flushed in batches) or "direct" (written by the request)."""
    # Read once per process (again when a test overrides a setting): a setting that is not
    # there would otherwise cost an exception on every request.
    mode = _config.get("mode")
    if mode is None:
        mode = getattr(settings, "TRACKING_BUFFER", None)
        if mode is None:
            mode = "redis" if getattr(settings, "REDIS_URL", "") else "direct"
        _config["mode"] = mode
    return mode


def stream_key() -> str:
    key = _config.get("stream")
    if key is None:
        key = _config["stream"] = getattr(settings, "TRACKING_STREAM", "crm:tracking:events")
    return key


@receiver(setting_changed)
def _settings_changed(**kwargs):
    _config.clear()


_redis_clients: dict[str, object] = {}


def redis_client():
    # One client (and connection pool) per process and URL.
    url = getattr(settings, "TRACKING_REDIS_URL", "") or settings.REDIS_URL
    client = _redis_clients.get(url)
    if client is None:
        import redis

        client = _redis_clients[url] = redis.Redis.from_url(url)
    return client


class _ProcessBuffer:
    """Hits waiting in this process for the next push to the Redis stream.

    A deque: append and popleft are atomic, so the request path and the push thread share it
    without a lock, and once it is full (Redis away for long) the oldest hits give way.
    """

    def __init__(self):
        self.forked()

    def forked(self) -> None:
        # A forked child starts empty (its parent sends what it held) and makes its own thread.
        self.items: deque[str] = deque(maxlen=PROCESS_BUFFER_MAX)
        self.wake = threading.Event()
        self.starting = threading.Lock()
        self.thread: threading.Thread | None = None
        self.dropped = 0

    def add(self, item: str) -> None:
        if self.thread is None:
            self._start()
        items = self.items
        if len(items) >= PUSH_AT:
            if len(items) == PROCESS_BUFFER_MAX:
                self.dropped += 1
            self.wake.set()
        items.append(item)

    def _start(self) -> None:
        with self.starting:
            if self.thread is None:
                self.thread = threading.Thread(target=self._run, name="tracking-push", daemon=True)
                self.thread.start()
                atexit.register(self.push)

    def _run(self) -> None:
        while True:
            self.wake.wait(PUSH_SECONDS)
            self.wake.clear()
            self.push()

    def push(self) -> int:
        """Send what is waiting, one round trip; on failure keep it for the next try."""
        items, pop = [], self.items.popleft
        try:
            while True:
                items.append(pop())
        except IndexError:
            pass
        dropped, self.dropped = self.dropped, 0
        if dropped:
            logger.error("tracking: buffer full, dropped %d hits (is Redis reachable?)", dropped)
        if not items:
            return 0
        try:
            # All or nothing (MULTI/EXEC), so a retry never doubles hits; entries of at most
            # ENTRY_MAX hits keep a flush batch bounded after an outage.
            pipe = redis_client().pipeline()
            for start in range(0, len(items), ENTRY_MAX):
                pipe.xadd(
                    stream_key(),
                    {"h": "\n".join(items[start : start + ENTRY_MAX])},
                    maxlen=STREAM_MAX_LENGTH,
                    approximate=True,
                )
            pipe.execute()
        except Exception:
            logger.warning("tracking: could not push %d hits to Redis", len(items), exc_info=True)
            self.items.extendleft(reversed(items))
            return 0
        return len(items)


process_buffer = _ProcessBuffer()
os.register_at_fork(after_in_child=process_buffer.forked)


def push_buffered() -> int:
    """Push this process's waiting hits to Redis now (tests, the benchmark); return how many."""
    return process_buffer.push()
