"""make test TEST_WORKERS=auto: pytest-xdist workers share nothing in Redis."""

import os

import redis
from django.conf import settings
from django.core.cache import cache

from .conftest import worker_redis_url


def test_each_worker_takes_the_next_redis_database():
    assert worker_redis_url("redis://127.0.0.1:6379/9", "gw0") == "redis://127.0.0.1:6379/9"
    assert worker_redis_url("redis://127.0.0.1:6379/9", "gw3") == "redis://127.0.0.1:6379/12"
    # Past the last of Redis's 16 databases it wraps round to the first.
    assert worker_redis_url("redis://127.0.0.1:6379/15", "gw1") == "redis://127.0.0.1:6379/0"
    assert worker_redis_url("redis://:secret@redis:6379", "gw2") == "redis://:secret@redis:6379/2"


def test_one_process_keeps_the_configured_database():
    assert worker_redis_url("redis://127.0.0.1:6379/9", "") == "redis://127.0.0.1:6379/9"
    assert worker_redis_url("", "gw1") == ""


def test_the_cache_writes_to_this_workers_database(redis_url):
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    assert redis_url == settings.REDIS_URL == settings.CACHES["default"]["LOCATION"]
    cache.set("parallel-probe", worker, 30)
    client = redis.Redis.from_url(redis_url)
    try:
        # Django's cache names the key ":1:parallel-probe" (its default key prefix and version).
        assert client.exists(cache.make_key("parallel-probe")) == 1
    finally:
        cache.delete("parallel-probe")
        client.close()
