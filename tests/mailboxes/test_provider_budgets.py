"""The budgets every worker of a provider account shares (connecting/quota.py): Gmail's rate
budget and Office 365's concurrency slots in Redis, as two workers see them; without Redis,
or with Redis down, this process's own."""

import secrets
import time

import pytest

from mailboxes.connecting.quota import RedisBudget, RedisSlots, account_budget, account_slots
from mailboxes.providers import LocalBudget, LocalSlots

RATE, BURST = 225.0, 200.0


def key() -> str:
    return f"test:{secrets.token_hex(6)}"


def test_two_workers_book_from_one_rate_budget(redis_url):
    name = key()
    sync, sender = RedisBudget(redis_url, name), RedisBudget(redis_url, name)

    assert sync.reserve(200, rate=RATE, burst=BURST, max_wait=5) == 0.0  # the burst
    wait = sender.reserve(100, rate=RATE, burst=BURST, max_wait=5)
    # The sender waits for the units the sync took beyond the burst: 100 units at 225/s.
    assert wait == pytest.approx(100 / RATE, abs=0.05)
    # A booking that would wait longer than allowed books nothing.
    assert sync.reserve(1000, rate=RATE, burst=BURST, max_wait=1) is None
    assert sender.reserve(1, rate=RATE, burst=BURST, max_wait=5) < 100 / RATE + 0.1


def test_a_retry_after_holds_every_worker_of_the_account(redis_url):
    name = key()
    sync, sender = RedisBudget(redis_url, name), RedisBudget(redis_url, name)

    sync.pause(30, rate=RATE, burst=BURST)

    assert sender.reserve(100, rate=RATE, burst=BURST, max_wait=15) is None
    assert sender.reserve(100, rate=RATE, burst=BURST, max_wait=60) >= 30


def test_concurrency_slots_are_shared_and_given_back(redis_url):
    name = key()
    sync, sender = RedisSlots(redis_url, name), RedisSlots(redis_url, name)

    batch = sync.acquire(3, limit=4, timeout=1)
    single = sender.acquire(1, limit=4, timeout=1)
    assert batch is not None and single is not None
    started = time.monotonic()
    assert sender.acquire(1, limit=4, timeout=0.2) is None  # a fifth: waited, then refused
    assert time.monotonic() - started >= 0.2
    sync.release(batch)
    assert sender.acquire(3, limit=4, timeout=1) is not None


def test_redis_down_falls_back_to_this_process(dead_broker):
    budget, slots = RedisBudget(dead_broker, key()), RedisSlots(dead_broker, key())

    assert budget.reserve(10, rate=RATE, burst=BURST, max_wait=5) == 0.0
    held = slots.acquire(4, limit=4, timeout=1)
    assert held is not None and slots.acquire(1, limit=4, timeout=0.05) is None
    slots.release(held)


def test_without_redis_an_account_has_this_process_budget(settings):
    settings.REDIS_URL = ""

    budget = account_budget("gmail", "https://gmail.example/", "Ana@Example.test")
    assert isinstance(budget, LocalBudget)
    assert budget is account_budget("gmail", "https://gmail.example/", "ana@example.test")
    assert isinstance(account_slots("office365", "https://graph.example", "ana@x.test"), LocalSlots)
