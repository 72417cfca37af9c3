"""The rate budget and concurrency slots of one provider account, shared by every worker that
syncs or sends for it.

Gmail counts its per-user quota across every call made for the account, so the sync and the
sender of the same inbox, in whatever worker they run, book from one budget: with REDIS_URL
set, a key in Redis holding the budget's GCRA arrival time (providers/pacing.py), updated by
one Lua script so that concurrent workers never over-book and Redis's clock is the only
clock; without Redis (development), this process's own budget. A Redis error falls back to
the process's budget for that call rather than stopping the sync or the send.

Outlook's limit of 4 requests in flight per mailbox is kept the same way (`account_slots`):
a sorted set of held slots in Redis, each lapsing after SLOT_LAPSE seconds should its worker
die holding it.

The key names the API endpoint too, so accounts on a test fake never share a budget with
the real Google account of the same address.
"""

import logging
import secrets
import time
from functools import cache

import redis
from django.conf import settings

from mailboxes.providers import ConcurrencySlots, QuotaBudget, local_budget, local_slots

log = logging.getLogger(__name__)

TIMEOUT = 0.5  # seconds; a budget is asked before every call to the provider
# After a Redis failure the process's own budget is used this long without asking Redis,
# so that a Redis that hangs costs one timeout, not one for every call.
OUTAGE_SECONDS = 30.0
_down_until: dict[str, float] = {}


def _redis_down(url: str) -> bool:
    return time.monotonic() < _down_until.get(url, 0.0)


def _note_outage(url: str, key: str, exc: Exception) -> None:
    _down_until[url] = time.monotonic() + OUTAGE_SECONDS
    log.warning("%s: Redis failed (%r); pacing in this process for a while", key, exc)


# KEYS[1] the budget; ARGV units (or seconds to pause), rate, burst, max_wait, mode.
SCRIPT = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
local amount, rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local wait = 0
if ARGV[5] == 'pause' then
  tat = math.max(tat, now + amount + burst / rate)
else
  tat = math.max(tat, now) + amount / rate
  wait = math.max(0, tat - burst / rate - now)
  if wait > tonumber(ARGV[4]) then return '-1' end
end
redis.call('SET', KEYS[1], string.format('%.6f', tat), 'PX', math.ceil((tat - now) * 1000) + 1000)
return string.format('%.6f', wait)
"""


@cache
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=TIMEOUT, socket_timeout=TIMEOUT)


class RedisBudget:
    """A QuotaBudget kept in Redis under `key`."""

    def __init__(self, url: str, key: str) -> None:
        self.key = key
        self._url = url
        self._script = _client(url).register_script(SCRIPT)
        self._fallback = local_budget(key)

    def reserve(self, units: float, *, rate: float, burst: float, max_wait: float) -> float | None:
        if not _redis_down(self._url):
            args = [units, rate, burst, max_wait, "take"]
            try:
                wait = float(self._script(keys=[self.key], args=args))
            except redis.RedisError as exc:
                _note_outage(self._url, self.key, exc)
            else:
                return None if wait < 0 else wait
        return self._fallback.reserve(units, rate=rate, burst=burst, max_wait=max_wait)

    def pause(self, seconds: float, *, rate: float, burst: float) -> None:
        if not _redis_down(self._url):
            try:
                self._script(keys=[self.key], args=[seconds, rate, burst, 0, "pause"])
                return
            except redis.RedisError as exc:
                _note_outage(self._url, self.key, exc)
        self._fallback.pause(seconds, rate=rate, burst=burst)


def account_budget(kind: str, endpoint: str, email: str) -> QuotaBudget:
    """The budget every adapter of this account books from."""
    key = f"quota:{kind}:{endpoint}:{email.casefold()}"
    url = getattr(settings, "REDIS_URL", "")
    return RedisBudget(url, key) if url else local_budget(key)


# KEYS[1] the holders (a sorted set: one member per slot, scored by when it lapses, so a
# worker killed while holding slots frees them by then); ARGV slots, limit, lapse seconds,
# then the members to add.
SLOTS_SCRIPT = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) + tonumber(ARGV[1]) > tonumber(ARGV[2]) then return 0 end
for i = 4, #ARGV do redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[i]) end
redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[3])) + 1)
return 1
"""
# How long a slot is held at most: the adapters' request timeout and then some.
SLOT_LAPSE = 120.0
SLOT_POLL = 0.02


class RedisSlots:
    """ConcurrencySlots kept in Redis under `key`, shared by every worker."""

    def __init__(self, url: str, key: str) -> None:
        self.key = key
        self._url = url
        self._client = _client(url)
        self._script = self._client.register_script(SLOTS_SCRIPT)
        self._fallback = local_slots(key)

    def acquire(self, slots: int, *, limit: int, timeout: float) -> object | None:
        if not _redis_down(self._url):
            members = [secrets.token_hex(8) for _ in range(slots)]
            args = [slots, limit, SLOT_LAPSE, *members]
            deadline = time.monotonic() + timeout
            try:
                while not self._script(keys=[self.key], args=args):
                    if time.monotonic() >= deadline:
                        return None
                    time.sleep(SLOT_POLL)
                return members
            except redis.RedisError as exc:
                _note_outage(self._url, self.key, exc)
        held = self._fallback.acquire(slots, limit=limit, timeout=timeout)
        return None if held is None else ("local", held)

    def release(self, held: object) -> None:
        if isinstance(held, tuple):
            self._fallback.release(held[1])
            return
        try:
            self._client.zrem(self.key, *held)  # type: ignore[misc]
        except redis.RedisError as exc:
            log.warning("slots %s: Redis failed (%r); they lapse by themselves", self.key, exc)


def account_slots(kind: str, endpoint: str, email: str) -> ConcurrencySlots:
    """The concurrency slots every adapter of this account takes from."""
    key = f"slots:{kind}:{endpoint}:{email.casefold()}"
    url = getattr(settings, "REDIS_URL", "")
    return RedisSlots(url, key) if url else local_slots(key)
