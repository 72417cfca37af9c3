"""Redis is the cache and the Celery broker in production: both work against the real server."""

import uuid

from django.core.cache import cache


def test_cache_is_redis_and_shared(redis_url):
    import redis

    key = f"test-{uuid.uuid4().hex}"
    cache.set(key, {"n": 1}, 30)
    assert cache.get(key) == {"n": 1}
    # Another client sees it: the cache is the shared Redis, not process memory.
    assert any(key in k.decode() for k in redis.Redis.from_url(redis_url).keys(f"*{key}*"))


def test_a_task_message_round_trips_through_the_redis_broker(redis_url):
    from kombu import Connection, Queue

    from crm_mail.celery import app

    assert app.conf.broker_url == redis_url
    queue = Queue(f"test-{uuid.uuid4().hex}")
    with Connection(redis_url) as conn:
        producer = conn.Producer()
        producer.publish({"hello": "worker"}, routing_key=queue.name, declare=[queue])
        received = []
        with conn.Consumer(queue, callbacks=[lambda body, msg: (received.append(body), msg.ack())]):
            conn.drain_events(timeout=5)
        queue(conn.channel()).delete()
    assert received == [{"hello": "worker"}]
