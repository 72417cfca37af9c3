"""How hard the connect forms may make this server knock on other servers.

Testing a connection opens sockets to a host and port the user chose, so each test runs with a
short timeout and each user gets a few tests a minute, counted from their first one in
Django's cache (shared by every web process when it is Redis).
"""

from django.core.cache import cache

CONNECTION_TEST_TIMEOUT = 5.0  # seconds per network operation while a person waits
CONNECTION_TESTS_PER_MINUTE = 6
_WINDOW = 60


def take_connection_test(user) -> bool:
    """Count one connection test for `user`; False once over the limit for the minute that
    began with their first test (the counter expires a minute after it was created)."""
    # date_joined too: a counter never passes to another account that got a recycled id.
    key = f"connect-tests:{user.pk}:{user.date_joined.timestamp():.6f}"
    if cache.add(key, 1, timeout=_WINDOW):
        return True
    try:
        count = cache.incr(key)  # keeps the key's expiry
    except ValueError:  # expired between add() and incr()
        cache.add(key, 1, timeout=_WINDOW)
        count = 1
    return count <= CONNECTION_TESTS_PER_MINUTE
