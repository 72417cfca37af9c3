"""Pace calls under a provider's rate quota instead of learning it from 429 answers.

A budget is a GCRA token bucket (the "generic cell rate algorithm"): one number, the
theoretical arrival time `tat`, says when the bucket will be full again. `reserve(units)`
books the units and answers how long the caller must sleep before sending; a booking that
would wait longer than `max_wait` is refused and nothing is booked. `pause(seconds)` is for a
Retry-After answer: nothing may be sent for that long, by anyone sharing the budget.

The adapter knows its provider's quota and passes `rate` (units per second) and `burst`
(units that may go at once) with every call, so a budget is only the stored `tat` and can be
shared: `LocalBudget` between the threads of one process (`local_budget(key)`), and the
CRM's Redis budget (mailboxes/connecting/quota.py) between every worker that sends or syncs
for the same account. `ConcurrencySlots` do the same for a limit on requests in flight
(`LocalSlots`, `local_slots(key)`; the Redis ones in quota.py). Nothing here imports the CRM.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol


class QuotaBudget(Protocol):
    """What an adapter needs of a shared rate budget."""

    def reserve(self, units: float, *, rate: float, burst: float, max_wait: float) -> float | None:
        """Book `units`; return seconds to wait before using them, or None (nothing booked)
        when that wait would exceed `max_wait`."""

    def pause(self, seconds: float, *, rate: float, burst: float) -> None:
        """Let nobody sharing the budget send for `seconds` (a Retry-After)."""


def gcra(tat: float, now: float, units: float, rate: float, burst: float) -> tuple[float, float]:
    """Return (new tat, seconds to wait) for booking `units` at `now`."""
    start = max(tat, now)
    new_tat = start + units / rate
    return new_tat, max(0.0, new_tat - burst / rate - now)


class LocalBudget:
    """A budget kept in this process, shared by its threads."""

    def __init__(self, clock=time.monotonic) -> None:
        self._clock = clock
        self._tat = 0.0
        self._lock = threading.Lock()

    def reserve(self, units: float, *, rate: float, burst: float, max_wait: float) -> float | None:
        with self._lock:
            new_tat, wait = gcra(self._tat, self._clock(), units, rate, burst)
            if wait > max_wait:
                return None
            self._tat = new_tat
            return wait

    def pause(self, seconds: float, *, rate: float, burst: float) -> None:
        with self._lock:
            self._tat = max(self._tat, self._clock() + seconds + burst / rate)


_local: dict[str, LocalBudget] = {}
_local_lock = threading.Lock()


def local_budget(key: str) -> LocalBudget:
    """The process-wide budget of `key` (say "gmail:ana@example.com"), made on first use."""
    with _local_lock:
        return _local.setdefault(key, LocalBudget())


class ConcurrencySlots(Protocol):
    """What an adapter needs of a shared limit on concurrent requests (Outlook's 4 per
    mailbox): `acquire` answers a handle to give back to `release`, or None when `slots`
    did not come free within `timeout` seconds."""

    def acquire(self, slots: int, *, limit: int, timeout: float) -> object | None: ...

    def release(self, held: object) -> None: ...


class LocalSlots:
    """Concurrency slots counted in this process, shared by its threads."""

    def __init__(self) -> None:
        self._used = 0
        self._free = threading.Condition()

    def acquire(self, slots: int, *, limit: int, timeout: float) -> object | None:
        with self._free:
            if not self._free.wait_for(lambda: self._used + slots <= limit, timeout):
                return None
            self._used += slots
            return slots

    def release(self, held: object) -> None:
        with self._free:
            self._used = max(0, self._used - int(held))  # type: ignore[call-overload]
            self._free.notify_all()


_local_slots: dict[str, LocalSlots] = {}


def local_slots(key: str) -> LocalSlots:
    """The process-wide concurrency slots of `key`, made on first use."""
    with _local_lock:
        return _local_slots.setdefault(key, LocalSlots())
